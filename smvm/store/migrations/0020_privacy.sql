-- Audit trail of data-subject erasures (`smvm erase`). It outlives the rows it describes, so it holds no PII:
-- a project id, or a submitter's sha256 hash, and counts.
CREATE TABLE erasures (
    id                  bigserial PRIMARY KEY,
    at                  timestamptz NOT NULL DEFAULT now(),
    requested_by        text NOT NULL,
    scope               text NOT NULL CHECK (scope IN ('project', 'submitter')),
    subject             text NOT NULL,
    runs_deleted        integer NOT NULL,
    directories_deleted integer NOT NULL DEFAULT 0,
    run_ids             jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX erasures_subject ON erasures (scope, subject);
-- erase --submitter looks runs up by hash.
CREATE INDEX IF NOT EXISTS runs_submitter_hash ON runs (submitter_hash) WHERE submitter_hash IS NOT NULL;
