"""Dagster-free: fetch settled runs, match them to the ledger, shape the runs table."""
