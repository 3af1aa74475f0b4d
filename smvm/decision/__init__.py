"""GO / PIVOT / KILL: must-meet knock-outs, a weighted scorecard and the T0+30 deliverables."""
