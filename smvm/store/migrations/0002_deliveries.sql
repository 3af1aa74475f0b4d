-- The callbacks outbox and dead-letter store, disabled destinations, and once-per-day job records.
CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    -- Standard Webhooks message id: the receiver's idempotency key, the same on every retry and replay.
    webhook_id      text NOT NULL UNIQUE,
    -- One row per logical message (an event's update, a run's alert of a type, a run's sync).
    dedupe_key      text NOT NULL UNIQUE,
    run_id          text REFERENCES runs (run_id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('update', 'alert', 'sync')),
    event_type      text NOT NULL,
    url             text NOT NULL,
    destination     text NOT NULL,
    -- The exact bytes signed and sent: re-serialising JSON would break signatures.
    body            text NOT NULL,
    correlation_id  text,
    status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN
                        ('PENDING', 'SENDING', 'DELIVERED', 'DEAD', 'DISABLED')),
    attempts        integer NOT NULL DEFAULT 0,
    deferrals       integer NOT NULL DEFAULT 0,
    replays         integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    claim_token     text,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    response        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    dead_at         timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('PENDING', 'SENDING');
CREATE INDEX deliveries_dead ON deliveries (dead_at) WHERE status = 'DEAD';
CREATE INDEX deliveries_run ON deliveries (run_id, id);

-- Every attempt, for the audit trail and the "at the scheduled delays" guarantee.
CREATE TABLE delivery_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    status_code  integer,
    error        text,
    outcome      text NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

-- A destination that answered 410 Gone: nothing more is sent to it.
CREATE TABLE disabled_destinations (
    url         text PRIMARY KEY,
    disabled_at timestamptz NOT NULL DEFAULT now(),
    reason      text NOT NULL
);

-- Exactly once per job and logical date, whatever the number of beat processes (shared/reference section 2).
CREATE TABLE scheduled_jobs (
    job          text NOT NULL,
    logical_date date NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (job, logical_date)
);
