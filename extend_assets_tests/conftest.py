"""Shared fixtures: the Extend emulator and the local S3 server, both on loopback."""

pytest_plugins = [
    "extend_assets.emulator.pytest_plugin",
    "extend_assets.localstack.pytest_plugin",
]
