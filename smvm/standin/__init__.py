"""A TractionBuild stand-in for integrators: receives SMVM's callbacks and results sync, verifies, acknowledges."""
