"""Local stand-ins for Extend and S3 on loopback: S3 behind a SigV4 check, and the stack."""
