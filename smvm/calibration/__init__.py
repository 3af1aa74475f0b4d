"""How good SMVM's forecasts turn out to be: observations scored against the predictions made at T0."""
