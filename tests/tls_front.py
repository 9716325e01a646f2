"""A TLS front on 127.0.0.1 that looks, to Databricks Connect, like a workspace host.

``DatabricksSession.builder.profile(NAME)`` reaches a workspace at ``https://HOST:PORT``
twice: gRPC over TLS (ALPN ``h2``) for Spark Connect, and HTTPS (``http/1.1``) through
databricks-sdk for the REST calls it makes first (``clusters/get``). The front ends TLS
with a certificate made for the test (trusted by the client through
``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` and ``REQUESTS_CA_BUNDLE``) and forwards each
connection by its ALPN protocol: ``h2`` to the local Spark Connect server, anything else
to the workspace emulator. The bytes after the handshake are passed through unchanged.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from contextlib import suppress
from pathlib import Path


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate, key) PEM files."""
    cert, key = folder / "front.pem", folder / "front.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class TlsFront:
    """Listen on 127.0.0.1 (TLS), forward ``h2`` to `grpc` and the rest to `http` (host, port)."""

    def __init__(self, folder: Path, grpc: tuple[str, int], http: tuple[str, int]) -> None:
        self.certificate, key = make_certificate(folder)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.certificate, key)
        self.context.set_alpn_protocols(["h2", "http/1.1"])
        self.backends = {"h2": grpc, None: http}
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.forwarded: dict[str, int] = {"h2": 0, "http/1.1": 0}
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        """The workspace host a profile names: ``https://127.0.0.1:PORT``."""
        return f"https://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            front = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        protocol = front.selected_alpn_protocol()
        self.forwarded[protocol or "http/1.1"] = self.forwarded.get(protocol or "http/1.1", 0) + 1
        backend = socket.create_connection(self.backends.get(protocol) or self.backends[None])
        pump = threading.Thread(target=_pipe, args=(backend, front), daemon=True)
        pump.start()
        _pipe(front, backend)
        pump.join(timeout=5)

    def stop(self) -> None:
        self._stopped.set()
        with suppress(OSError):
            self.listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes until `source` ends, then close both directions' writers."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (target, source):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
