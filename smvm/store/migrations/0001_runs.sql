-- Runs, their stages, artifacts and the audit trail: PostgreSQL is the source of truth, Redis only carries hints.
CREATE TABLE runs (
    run_id              text PRIMARY KEY,
    validation_id       text NOT NULL UNIQUE,
    project_id          text NOT NULL,
    status              text NOT NULL CHECK (status IN
                            ('INITIATED', 'RUNNING', 'COMPLETED', 'FINALIZED', 'FAILED', 'INCOMPLETE', 'CANCELLED')),
    request             jsonb NOT NULL,
    request_fingerprint text NOT NULL,
    response            jsonb,
    validation          jsonb,
    seed                bigint NOT NULL,
    run_dir             text NOT NULL,
    correlation_id      text,
    callback_url        text,
    submitter_hash      text,
    current_stage       text,
    recommendation      text,
    confidence          double precision,
    completion          jsonb,
    finalization        jsonb,
    error               jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    completed_at        timestamptz,
    validated_at        timestamptz,
    finalized_at        timestamptz,
    estimated_completion timestamptz,
    deadline_at         timestamptz,
    persisted_at        timestamptz,
    tractionbuild_reference text
);
CREATE INDEX runs_project_created ON runs (project_id, created_at DESC);
CREATE INDEX runs_status_created ON runs (status, created_at DESC);
CREATE INDEX runs_created ON runs (created_at DESC, run_id DESC);

CREATE TABLE stages (
    run_id        text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    name          text NOT NULL,
    position      smallint NOT NULL,
    queue         text NOT NULL,
    status        text NOT NULL CHECK (status IN
                      ('PENDING', 'ENQUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    attempt       integer NOT NULL DEFAULT 0,
    enqueued_at   timestamptz,
    started_at    timestamptz,
    heartbeat_at  timestamptz,
    finished_at   timestamptz,
    duration_ms   integer,
    worker        text,
    last_error    text,
    result        jsonb,
    PRIMARY KEY (run_id, name)
);
-- The sweeper's scans: stages that should be moving.
CREATE INDEX stages_sweep ON stages (status, enqueued_at) WHERE status IN ('ENQUEUED', 'RUNNING');

CREATE TABLE artifacts (
    run_id     text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    path       text NOT NULL,
    stage      text NOT NULL,
    sha256     text NOT NULL,
    size_bytes bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, path)
);

CREATE TABLE events (
    id         bigserial PRIMARY KEY,
    run_id     text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text NOT NULL,
    status     text,
    stage      text,
    attempt    integer,
    data       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_run ON events (run_id, id);
