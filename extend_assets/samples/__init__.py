"""A sample document corpus with ground truth, and the emulator workflow it is written for."""
