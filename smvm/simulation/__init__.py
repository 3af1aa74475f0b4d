"""Monte Carlo market simulation: sampling, the 36-month model, sensitivity and scenarios."""
