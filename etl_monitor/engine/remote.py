"""Remote engines: any Spark Connect server (``sc://``) or Databricks Connect with a config profile.

Both return a Spark Connect ``SparkSession`` whose tables live on the server; the engine's
capabilities are then worked out by `etl_monitor.engine.capabilities.detect_engine`. The
first contact is made here, with a short retry budget, so that a server that cannot be
reached fails in seconds with an `EngineError` naming it, instead of the Spark Connect
client's default of retrying for ten minutes.
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import Any

from etl_monitor.errors import EngineError, InvalidArgumentError

log: logging.Logger = logging.getLogger("etl_monitor.engine.remote")

SCHEME = "sc://"
#: ``sc://host[:port][/;param=value;...]``, as the Spark Connect client parses it.
_URL = re.compile(
    r"^sc://(?P<host>[A-Za-z0-9._\-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?(?P<rest>/.*)?$"
)
#: The distribution that carries this package, for install hints.
DIST = "lakehouse-etl-monitor"
#: How long the first contact with a server may retry (the client's default is 10 minutes).
FIRST_CONTACT_RETRY = {"max_retries": 3, "initial_backoff": 100, "max_backoff": 1000}


def check_url(url: str) -> str:
    """Validate a Spark Connect URL.

    Args:
        url: ``sc://HOST[:PORT][/;param=value...]``.

    Returns:
        The URL, unchanged.

    Raises:
        InvalidArgumentError: it does not start with ``sc://``, has no host, a port outside
            1-65535, or a path other than ``/;params``.
    """
    if not isinstance(url, str) or not url.startswith(SCHEME):
        raise InvalidArgumentError(
            f"invalid Spark Connect URL {url!r}: it must start with {SCHEME!r} "
            "(sc://HOST:PORT or sc://HOST:PORT/;param=value)",
            argument="remote",
            value=url,
        )
    match = _URL.match(url)
    port = match and match.group("port")
    rest = (match and match.group("rest")) or ""
    if (
        match is None
        or (port is not None and not 0 < int(port) < 65536)
        or (rest and not rest.startswith("/;") and rest != "/")
    ):
        raise InvalidArgumentError(
            f"invalid Spark Connect URL {url!r}: expected sc://HOST[:PORT][/;param=value...] "
            "with a port between 1 and 65535",
            argument="remote",
            value=url,
        )
    return url


def display_url(url: str) -> str:
    """The URL without its parameters (they may hold a token), for messages."""
    match = _URL.match(url)
    if match is None:
        return url.split("/;", 1)[0]
    port = match.group("port")
    return f"{SCHEME}{match.group('host')}" + (f":{port}" if port else "")


def remote_session(url: str) -> Any:
    """A Spark Connect session on the server at `url`, contacted once.

    Args:
        url: ``sc://HOST:PORT[/;params]``: Sail (``sail spark server``), the JVM Spark Connect
            server, or a Databricks cluster (``sc://...;token=...;x-databricks-cluster-id=...``).

    Returns:
        A new SparkSession (not a cached one) whose first call succeeded.

    Raises:
        InvalidArgumentError: the URL is malformed.
        EngineError: pyspark's Spark Connect client is not installed, or the server cannot be
            reached or answered with an error.
    """
    check_url(url)
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:  # pragma: no cover - depends on the install
        raise EngineError(
            f"--remote needs the Spark Connect client: pip install 'pyspark[connect]' "
            f"(or '{DIST}[local]')"
        ) from error
    try:
        spark = without_reattach(SparkSession.builder.remote(url).create())
    except Exception as error:
        raise EngineError(
            f"cannot open a Spark Connect session on {display_url(url)}: {first_line(error)}"
        ) from error
    first_contact(spark, display_url(url))
    return spark


def without_reattach(spark: Any) -> Any:
    """`spark` (a Spark Connect session) with reattachable execution off; returns it.

    Reattaching resumes a result stream after a network drop; the library's queries are
    short, and a dropped one fails and is rerun. Off, each query is one plain ExecutePlan
    stream with no ReleaseExecute call after it, which keeps the session out of pyspark
    4.1's release pool: one thread pool for every session of the process, shut down by
    any session's ``close()`` while holding the pool's lock and waiting for releases that
    retry for minutes against a server that went away, with iterators released by the
    garbage collector waiting for that lock (the hangs fixed upstream by SPARK-55362 and
    SPARK-55406). A process that opens and closes sessions while other threads run
    queries (tests, the CLI over several servers) could hang there.

    Args:
        spark: a pyspark Spark Connect session; other sessions are returned unchanged.

    Returns:
        The same session.
    """
    disable = getattr(getattr(spark, "client", None), "disable_reattachable_execute", None)
    if callable(disable):
        disable()
    return spark


def databricks_session(profile: str) -> Any:
    """A Databricks Connect session from a databricks-sdk config profile (``~/.databrickscfg``).

    Args:
        profile: the profile's name; it names the workspace, the credentials and the compute
            (``cluster_id``, or ``serverless_compute_id = auto``).

    Returns:
        The ``DatabricksSession``, contacted once.

    Raises:
        InvalidArgumentError: the profile name is empty.
        EngineError: ``databricks-connect`` is not installed, the profile is unusable, or the
            workspace cannot be reached.
    """
    if not isinstance(profile, str) or not profile.strip():
        raise InvalidArgumentError(
            f"invalid profile {profile!r}: name a section of ~/.databrickscfg",
            argument="profile",
            value=profile,
        )
    try:
        from databricks.connect import DatabricksSession
    except ImportError as error:
        raise EngineError(
            f"--profile needs databricks-connect: pip install '{DIST}[databricks-connect]'"
        ) from error
    try:
        spark = DatabricksSession.builder.profile(profile).getOrCreate()
    except Exception as error:
        raise EngineError(
            f"cannot open a Databricks Connect session with profile {profile!r}: "
            f"{first_line(error)}"
        ) from error
    first_contact(spark, f"Databricks Connect (profile {profile!r})")
    return spark


def first_contact(spark: Any, where: str) -> None:
    """Ask the server for its version with a short retry budget, then restore the client's.

    Raises:
        EngineError: the server cannot be reached or refused the call.
    """
    client = getattr(spark, "client", None)
    saved = _short_retries(client)
    try:
        with warnings.catch_warnings():  # the client warns before it raises: one message is enough
            warnings.simplefilter("ignore")
            _ = spark.version
    except Exception as error:
        close(spark)
        raise EngineError(
            f"cannot reach Spark Connect server {where}: {first_line(error)}"
        ) from error
    finally:
        if saved is not None:
            client.set_retry_policies(saved)
    log.info("connected to %s (Spark %s)", where, spark.version)


def _short_retries(client: Any) -> list[Any] | None:
    try:
        from pyspark.sql.connect.client.retries import DefaultPolicy

        saved = list(client.get_retry_policies())
        client.set_retry_policies([DefaultPolicy(**FIRST_CONTACT_RETRY)])
        return saved
    except Exception:  # not a Spark Connect client we know: keep its own retries
        return None


def close(spark: Any) -> None:
    """Close a session's channel without releasing it on the server (never raises).

    A closed client makes the Spark Connect client's exit hook return at once instead of
    retrying an unreachable server; the server-side session is left alone, so a session
    shared through ``session_id`` keeps its tables.
    """
    client = getattr(spark, "client", None)
    try:
        if client is not None and not client.is_closed:
            client.close()
    except Exception:  # best effort: the process is failing anyway
        log.debug("could not close the Spark Connect client", exc_info=True)


def first_line(error: BaseException) -> str:
    """One line that says what failed: a gRPC error's details, else the first line of the text."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:  # gRPC details beat the wrapper's text
        seen.add(id(current))
        details = getattr(current, "details", None)
        if callable(details):
            try:
                text = details()
            except Exception:
                text = None
            if text:
                return " ".join(str(text).split())[:300]
        current = current.__cause__ or current.__context__
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()[:300]
    return type(error).__name__
