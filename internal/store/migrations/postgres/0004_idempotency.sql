-- Idempotency-Key records (API.md §3.6). scope = organization, application, end-user, method and path of
-- the request; a row is live until expires_at, and while state = 'processing' only until locked_until (a
-- request abandoned by a crashed process frees its key after the lease).

CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL,
    token        text NOT NULL,
    body_hash    text NOT NULL,
    state        text NOT NULL CHECK (state IN ('processing', 'completed')),
    status       integer,
    headers      jsonb,
    body         bytea,
    created_at   timestamptz NOT NULL,
    locked_until timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys(expires_at);
