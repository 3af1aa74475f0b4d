"""Market inputs: domain priors, client evidence, personas and competitors."""
