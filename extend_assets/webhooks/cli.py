"""``extend-assets webhooks``: serve the receiver with uvicorn until Ctrl-C / SIGTERM.

The signing secret is read only from the environment (``--secret-env`` names the
variable; several secrets separated by commas while rotating). TLS is ended upstream
(load balancer or ingress); this serves plain HTTP.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from extend_assets.webhooks.events import API_VERSIONS, DEFAULT_MAX_BODY_BYTES
from extend_assets.webhooks.fetch import DEFAULT_MAX_FETCH_BYTES

if TYPE_CHECKING:
    from extend_assets.webhooks.app import ReceiverConfig

DEFAULT_PORT = 8788
DEFAULT_SECRET_ENV = "EXTEND_WEBHOOK_SECRET"
MAX_BODY_ENV = "EXTEND_WEBHOOK_MAX_BODY_BYTES"  # also named in the 413 (app.MAX_BODY_ENV)
PROG = "extend-assets webhooks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--landing",
        required=True,
        help="where events land: s3://BUCKET/PREFIX or a local directory",
    )
    parser.add_argument(
        "--api-version",
        required=True,
        choices=API_VERSIONS,
        help="the API version the Extend webhook endpoint is pinned to",
    )
    parser.add_argument(
        "--secret-env",
        default=DEFAULT_SECRET_ENV,
        metavar="NAME",
        help=f"environment variable holding the signing secret(s) (default {DEFAULT_SECRET_ENV})",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        help=(
            f"refuse larger inline bodies with 413 (default ${MAX_BODY_ENV}, else "
            f"{DEFAULT_MAX_BODY_BYTES} = 64 MiB); bodies above 1 MiB are spooled to disk"
        ),
    )
    parser.add_argument(
        "--max-fetch-bytes",
        type=int,
        default=DEFAULT_MAX_FETCH_BYTES,
        help=f"largest signed_data_url payload fetched (default {DEFAULT_MAX_FETCH_BYTES})",
    )
    parser.add_argument(
        "--allow-http-data-urls",
        action="store_true",
        help="fetch signed_data_url payloads over plain http (local emulator only)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])


class _UsageError(Exception):
    """A setting the receiver cannot start with; the message names it and the fix."""


def run(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401  (the webhooks extra)
        import uvicorn  # noqa: F401
    except ImportError:
        return _fail(
            "the receiver needs uvicorn and Starlette: pip install 'extend-assets[webhooks]'"
        )
    try:
        config = _receiver_config(args)
        sock = _listen(args.host, args.port)
    except _UsageError as error:
        return _fail(str(error))
    try:
        _serve(config, sock, args)
    finally:
        sock.close()
    return 0


def _receiver_config(args: argparse.Namespace) -> ReceiverConfig:
    from extend_assets.webhooks.app import ReceiverConfig
    from extend_assets.webhooks.errors import LandingError
    from extend_assets.webhooks.signature import Secrets
    from extend_assets.webhooks.stores import open_landing_zone

    raw = os.environ.get(args.secret_env, "")
    if not raw.strip():
        raise _UsageError(
            f"environment variable {args.secret_env} is not set; export the webhook endpoint's "
            "signing secret there (comma-separated while rotating), or name another variable "
            "with --secret-env"
        )
    max_body_bytes = _max_body_bytes(args.max_body_bytes)
    try:
        landing = open_landing_zone(args.landing)
        landing.check()
    except (ValueError, LandingError) as error:
        raise _UsageError(f"--landing {args.landing}: {error}") from None
    return ReceiverConfig(
        landing=landing,
        secrets=Secrets.parse(raw),
        api_version=args.api_version,
        max_body_bytes=max_body_bytes,
        max_fetch_bytes=args.max_fetch_bytes,
        allow_http_data_urls=args.allow_http_data_urls,
    )


def _max_body_bytes(given: int | None) -> int:
    """--max-body-bytes, else $EXTEND_WEBHOOK_MAX_BODY_BYTES, else the default."""
    raw = os.environ.get(MAX_BODY_ENV, "").strip()
    if given is None and raw:
        if not raw.isascii() or not raw.isdigit():
            raise _UsageError(f"{MAX_BODY_ENV}={raw!r} is not a number of bytes, e.g. 67108864")
        given = int(raw)
    value = DEFAULT_MAX_BODY_BYTES if given is None else given
    if value < 1:
        raise _UsageError(f"--max-body-bytes / {MAX_BODY_ENV} must be positive")
    return value


def _listen(host: str, port: int) -> socket.socket:
    try:
        return _bind(host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise _UsageError(
                f"port {port} on {host} is already in use; stop the other process "
                "or pass another --port"
            ) from None
        raise _UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def _serve(config: ReceiverConfig, sock: socket.socket, args: argparse.Namespace) -> None:
    import uvicorn

    from extend_assets.webhooks.app import create_app

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            log_config=None,  # ours above; uvicorn's access log is off (it logs raw paths)
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=25,
        )
    )
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"Extend webhook receiver (API {args.api_version}) on "
        f"http://{shown_host}:{sock.getsockname()[1]}/ landing in {config.landing.description}",
        flush=True,
    )
    server.run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT, not a listener
        sock.bind((host, port))
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m extend_assets.webhooks.cli ...``."""
    parser = argparse.ArgumentParser(prog=PROG, description="Receive Extend webhooks.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
