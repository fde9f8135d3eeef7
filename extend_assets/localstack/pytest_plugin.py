"""pytest fixtures for the local stack (filled in by the localstack module)."""
