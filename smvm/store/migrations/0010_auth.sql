-- API tokens (stored only as hashes), the audit trail of authenticated calls, and idempotency keys.
CREATE TABLE api_tokens (
    token_id     text PRIMARY KEY,
    name         text NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    scopes       text[] NOT NULL,
    projects     text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    token_id       text,
    token_name     text,
    method         text NOT NULL,
    path           text NOT NULL,
    endpoint       text,
    status         smallint NOT NULL,
    outcome        text NOT NULL,
    run_id         text,
    correlation_id text,
    remote_addr    text
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_token ON audit_log (token_id, at DESC);

CREATE TABLE idempotency_keys (
    client           text NOT NULL,
    key              text NOT NULL,
    fingerprint      text NOT NULL,
    state            text NOT NULL CHECK (state IN ('IN_PROGRESS', 'DONE')),
    response_status  smallint,
    response_body    bytea,
    response_headers jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
