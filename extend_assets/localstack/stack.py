"""``LocalStack``: the emulator, a local S3 and a sample corpus in it, for demos and tests."""

from __future__ import annotations

import importlib.util
from datetime import date
from types import TracebackType
from typing import Any

from extend_assets.localstack.s3 import LocalS3Server
from extend_assets.samples.corpus import SampleDocument, generate_corpus, upload_corpus

# module -> the distribution that provides it, all in the ``local`` extra.
LOCAL_EXTRA_MODULES = {"moto": "moto[server]", "fpdf": "fpdf2"}


class MissingExtraError(ImportError):
    """The offline world needs packages of the ``local`` extra that are not installed."""


def require_local_extra() -> None:
    """Raise :class:`MissingExtraError` naming the fix when the ``local`` extra is missing."""
    missing = [
        dist
        for module, dist in LOCAL_EXTRA_MODULES.items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise MissingExtraError(
            f"the local stack needs {', '.join(missing)}, which are not installed. "
            "Install the `local` extra the way extend-assets was installed (from a checkout: "
            "pip install '.[local]'; from a wheel: pip install '<the .whl file>[local]'), "
            "or only what is missing: pip install " + " ".join(f"'{m}'" for m in missing)
        )


class LocalStack:
    """Everything the pipeline talks to, on loopback, seeded with ``documents`` samples.

    ``env()`` gives the variables the code location (``extend_assets.definitions``)
    reads, so ``dagster dev`` or a test can point at this stack unchanged.
    """

    def __init__(
        self,
        documents: int = 200,
        days: int = 3,
        seed: int = 7,
        *,
        bucket: str = "extend-documents",
        prefix: str = "invoices/",
        emulator_latency: float = 0.02,
        emulator_state: str | None = None,
        s3_port: int = 0,
        emulator_port: int = 0,
        runs_per_minute: float | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_delivery: Any = None,
        end_date: date | None = None,
    ) -> None:
        from extend_assets.emulator import EmulatorServer

        require_local_extra()
        self.bucket = bucket
        self.prefix = prefix
        self.s3 = LocalS3Server(port=s3_port)
        self.emulator = EmulatorServer(
            port=emulator_port,
            latency=emulator_latency,
            state_path=emulator_state,
            runs_per_minute=runs_per_minute,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            webhook_delivery=webhook_delivery,
        )
        dated: dict[str, Any] = {} if end_date is None else {"end_date": end_date}
        self.documents: list[SampleDocument] = generate_corpus(
            documents, days=days, seed=seed, prefix=prefix, **dated
        )

    def start(self) -> LocalStack:
        self.s3.start()
        try:
            client = self.s3.boto3_client()
            client.create_bucket(Bucket=self.bucket)
            _empty(client, self.bucket)  # moto's state is per process: start from nothing
            upload_corpus(self.documents, client, self.bucket)
            self.emulator.start()
        except BaseException:
            self.s3.stop()
            raise
        return self

    def stop(self) -> None:
        self.emulator.stop()
        self.s3.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        from extend_assets.emulator import SAMPLE_WORKFLOW_ID

        return {
            **self.s3.env(),
            "EXTEND_BASE_URL": self.emulator.base_url,
            "EXTEND_API_KEY": self.emulator.api_key,
            "EXTEND_WORKFLOW_ID": SAMPLE_WORKFLOW_ID,
            "EXTEND_S3_BUCKET": self.bucket,
            "EXTEND_S3_PREFIX": self.prefix + "{date}/",
        }

    def truth(self) -> dict[str, dict[str, Any]]:
        return {doc.key: doc.truth for doc in self.documents}


def _empty(client: Any, bucket: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
