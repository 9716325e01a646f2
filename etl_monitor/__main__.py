"""`python -m etl_monitor` runs the command line."""

from etl_monitor.cli.main import run

run()
