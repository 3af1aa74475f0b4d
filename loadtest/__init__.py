"""Load test and baselines for a running SMVM stack (``make loadtest``); a benchmark, not a timed test."""
