"""The engine layer: the one SQL executor, engine differences as data, local engines, time, where code runs."""
