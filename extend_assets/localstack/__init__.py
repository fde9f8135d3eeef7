"""The offline world: S3 on loopback (moto behind a presigned-URL check) and samples."""

from extend_assets.localstack.s3 import LocalS3Server
from extend_assets.localstack.stack import LocalStack, MissingExtraError, require_local_extra

__all__ = ["LocalS3Server", "LocalStack", "MissingExtraError", "require_local_extra"]
