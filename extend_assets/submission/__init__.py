"""Dagster-free: which documents to send, and sending them to Extend exactly once.

``listing`` (S3 objects per partition), ``s3`` (list, presign, explain errors),
``pending`` (what is new), ``ledger`` / ``ledger_table`` (what was sent), ``submitter``
(reconcile, then POST in as few calls as the API allows).
"""
