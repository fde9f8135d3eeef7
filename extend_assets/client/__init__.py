"""A plain-Python client for the Extend workflow-run API (2025-04-21). No Dagster here."""
