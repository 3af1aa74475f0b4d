"""Feature flags of the integration contract and the mock-mode pipeline they select."""
