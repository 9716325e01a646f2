"""Tools that keep the typed public API in step with the code; nothing here runs in a job.

- `stubgen` writes ``framework.pyi`` (what type checkers read for `etl_monitor.framework`)
  from the runtime objects: ``python -m etl_monitor._typing.stubgen [--check]``.
- `completeness` measures ``pyright --verifytypes`` on the installed package:
  ``python -m etl_monitor._typing.completeness``.
"""
