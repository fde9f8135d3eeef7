"""pytest fixtures for the Extend emulator (filled in by the emulator module)."""
