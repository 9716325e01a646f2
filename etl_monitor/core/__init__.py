"""The core every feature stands on: the context, schema objects and their registry, setup, argument models."""
