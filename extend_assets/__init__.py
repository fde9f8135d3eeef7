"""Dagster assets that turn a bucket of documents into tables through Extend workflows."""

__version__ = "0.1.0"
