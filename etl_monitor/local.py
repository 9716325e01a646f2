"""Local engines for notebooks-off-Databricks, the demo and the tests (public path).

The implementation lives in `etl_monitor.engine.local`; this module keeps the public
import path ``from etl_monitor.local import spark_session`` stable.
"""

from etl_monitor.engine.local import *  # noqa: F403
