"""A WSGI app served on a loopback port from a daemon thread (the emulator, the local S3)."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """No access log: request lines can carry tokens (presigned URLs), and tests want quiet."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class BackgroundServer:
    """Binds on ``start()`` (port 0 picks a free one) and serves until ``stop()``."""

    def __init__(self, host: str, port: int, what: str) -> None:
        self.host = host
        self.what = what
        self._requested_port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        self._server = make_server(
            self.host, self._requested_port, app, threaded=True, request_handler=QuietHandler
        )
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self.what, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self.what} is not running; call start() first")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
