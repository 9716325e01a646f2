"""Configuration: argument models, register_*(), and the catalogue as code."""
