"""A faithful local Extend workflow-run API (2025-04-21) for tests, demos and CI."""
