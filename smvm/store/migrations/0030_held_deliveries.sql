-- Held deliveries: callbacks neither delivered nor dead are visible with the reason they wait, and bounded in time.
-- hold_reason: why a PENDING row waits (retrying, throttled, breaker_open); DISABLED rows read as disabled and a
-- row never attempted as queued. held_since starts the clock that turns a held row into a dead letter
-- (SMVM_WEBHOOK_MAX_HOLD_HOURS); a replay starts it again.
ALTER TABLE deliveries ADD COLUMN hold_reason text;
ALTER TABLE deliveries ADD COLUMN held_since timestamptz;
UPDATE deliveries SET held_since = created_at;
ALTER TABLE deliveries ALTER COLUMN held_since SET DEFAULT now();
ALTER TABLE deliveries ALTER COLUMN held_since SET NOT NULL;
CREATE INDEX deliveries_held ON deliveries (held_since) WHERE status IN ('PENDING', 'SENDING', 'DISABLED');
