-- Direct uploads (API.md §4.13, §7 uploads). A row is created with its signed PUT URL; the PUT records the
-- object that holds the content (content_key, one object per attempt under storage_key) with its actual size
-- and the type its magic bytes showed; a run marks it consumed (single use). Expired unconsumed rows and
-- long-consumed ones are swept with their objects.

CREATE TABLE uploads (
    id             text PRIMARY KEY,
    org_id         text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    created_by     text REFERENCES users(id) ON DELETE SET NULL,
    storage_key    text NOT NULL,
    name           text NOT NULL,
    mime           text NOT NULL,
    size           bigint NOT NULL CHECK (size >= 0),
    expires_at     timestamptz NOT NULL,
    consumed_at    timestamptz,
    written_at     timestamptz,
    content_key    text,
    content_size   bigint CHECK (content_size >= 0),
    detected_mime  text,
    created_at     timestamptz NOT NULL,
    CHECK ((written_at IS NULL) = (content_key IS NULL))
);
CREATE INDEX uploads_application_id_idx ON uploads(application_id);
CREATE INDEX uploads_unconsumed_expires_idx ON uploads(expires_at) WHERE consumed_at IS NULL;
CREATE INDEX uploads_consumed_at_idx ON uploads(consumed_at) WHERE consumed_at IS NOT NULL;
