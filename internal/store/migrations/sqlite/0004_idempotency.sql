-- Idempotency-Key records (API.md §3.6). scope = organization, application, end-user, method and path of
-- the request; a row is live until expires_at, and while state = 'processing' only until locked_until (a
-- request abandoned by a crashed process frees its key after the lease).

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    token        TEXT NOT NULL,
    body_hash    TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('processing', 'completed')),
    status       INTEGER,
    headers      TEXT,
    body         BLOB,
    created_at   TIMESTAMP NOT NULL,
    locked_until TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys(expires_at);
