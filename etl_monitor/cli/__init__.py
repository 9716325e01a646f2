"""The etl-monitor command line: click commands over the facade."""
