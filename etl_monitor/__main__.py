"""`python -m etl_monitor` runs the command line."""

from .cli import run

run()
