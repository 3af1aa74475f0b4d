"""Bearer tokens with scopes and project patterns, the audit trail, and idempotency keys."""
