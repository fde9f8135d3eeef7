"""What S3 checks on a presigned URL and moto 5.2.5 does not: signature and expiry.

The signature is recomputed with botocore's own SigV4 signer (no hand-written
crypto) from the request as received; a mismatch or an expired URL gets S3's
403 XML error.
"""

from __future__ import annotations

import calendar
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ALGORITHM = "AWS4-HMAC-SHA256"


def s3_error(code: str, message: str, resource: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{resource}</Resource><RequestId>local</RequestId></Error>"
    ).encode()


def check_presigned(
    method: str,
    url: str,
    host: str,
    secrets: dict[str, str],
    now: float,
) -> tuple[str, str] | None:
    """None if the presigned ``url`` is valid now; else (S3 error code, message)."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = dict(params)
    try:
        amz_date = query["X-Amz-Date"]
        expires = int(query["X-Amz-Expires"])
        credential = query["X-Amz-Credential"]
        given = query["X-Amz-Signature"]
    except (KeyError, ValueError):
        return (
            "AuthorizationQueryParametersError",
            "Query-string authentication requires X-Amz-Date, X-Amz-Expires, X-Amz-Credential and X-Amz-Signature.",
        )
    try:
        signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return (
            "AuthorizationQueryParametersError",
            "X-Amz-Date must be in the ISO8601 basic format.",
        )
    if now > signed_at + expires:
        return "AccessDenied", "Request has expired"
    access_key, _, scope = credential.partition("/")
    scope_parts = scope.split("/")
    secret = secrets.get(access_key)
    if secret is None or len(scope_parts) != 4:
        return (
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    region = scope_parts[1]
    # The query exactly as sent, minus the signature: botocore canonicalizes it as is.
    unsigned = "&".join(p for p in parts.query.split("&") if not p.startswith("X-Amz-Signature="))
    rebuilt = f"{parts.scheme}://{host}{parts.path}?{unsigned}"
    request = AWSRequest(method=method, url=rebuilt, headers={"host": host})
    request.context["timestamp"] = amz_date
    auth = S3SigV4QueryAuth(Credentials(access_key, secret), "s3", region, expires)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if expected != given:
        return (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    return None


class PresignValidator:
    """WSGI middleware in front of moto: presigned requests must be valid, as on S3."""

    def __init__(self, app: WSGIApp, secrets: dict[str, str], clock: Callable[[], float]) -> None:
        self.app = app
        self.secrets = secrets
        self.clock = clock
        self.denied: set[str] = set()
        # moto checks If-None-Match / If-Match, then writes, without a lock: two
        # concurrent conditional PUTs of one key could both succeed. S3 makes them
        # atomic (one 200, one 412), so they are serialized here.
        self._conditional = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        bucket = path.lstrip("/").split("/", 1)[0]
        if bucket and bucket in self.denied:
            return self._deny(start_response, "AccessDenied", "Access Denied", path)
        query = environ.get("QUERY_STRING", "")
        if "X-Amz-Signature=" in query and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            host = environ.get("HTTP_HOST", "")
            raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or f"{path}?{query}"
            url = f"http://{host}{raw}"
            problem = check_presigned(
                environ["REQUEST_METHOD"], url, host, self.secrets, self.clock()
            )
            if problem is not None:
                return self._deny(start_response, problem[0], problem[1], path)
        if environ.get("REQUEST_METHOD") == "PUT" and (
            "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MATCH" in environ
        ):
            with self._conditional:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)

    @staticmethod
    def _deny(
        start_response: Callable[..., Any], code: str, message: str, resource: str
    ) -> list[bytes]:
        body = s3_error(code, message, resource)
        start_response(
            "403 Forbidden",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
        )
        return [body]
