-- AFPS package registry: packages (drafts), immutable versions, dist-tags, version dependencies,
-- per-application installations and per-application provider credentials.

CREATE TABLE packages (
    id             text PRIMARY KEY CHECK (id ~ '^@[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$'),
    org_id         text REFERENCES organizations(id) ON DELETE CASCADE,
    type           text NOT NULL CHECK (type IN ('agent', 'skill', 'tool', 'provider')),
    source         text NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'system')),
    draft_manifest jsonb NOT NULL DEFAULT '{}',
    draft_content  text NOT NULL DEFAULT '',
    auto_installed boolean NOT NULL DEFAULT false,
    lock_version   integer NOT NULL DEFAULT 1,
    forked_from    text,
    ephemeral      boolean NOT NULL DEFAULT false,
    created_by     text REFERENCES users(id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX packages_org_type_idx ON packages(org_id, type);

CREATE TABLE package_versions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    package_id    text NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    version       text NOT NULL,
    integrity     text NOT NULL,
    artifact_size bigint NOT NULL,
    manifest      jsonb NOT NULL,
    yanked        boolean NOT NULL DEFAULT false,
    yanked_reason text,
    created_by    text REFERENCES users(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL,
    UNIQUE (package_id, version)
);

CREATE TABLE package_dist_tags (
    package_id text NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    tag        text NOT NULL,
    version_id bigint NOT NULL REFERENCES package_versions(id) ON DELETE CASCADE,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (package_id, tag)
);

CREATE TABLE package_version_dependencies (
    version_id    bigint NOT NULL REFERENCES package_versions(id) ON DELETE CASCADE,
    dep_scope     text NOT NULL,
    dep_name      text NOT NULL,
    dep_type      text NOT NULL CHECK (dep_type IN ('agent', 'skill', 'tool', 'provider')),
    version_range text NOT NULL,
    PRIMARY KEY (version_id, dep_scope, dep_name)
);

CREATE TABLE application_packages (
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    package_id     text NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    version_id     bigint REFERENCES package_versions(id) ON DELETE SET NULL,
    config         jsonb NOT NULL DEFAULT '{}',
    model_id       text,
    proxy_id       text,
    app_profile_id text REFERENCES connection_profiles(id) ON DELETE SET NULL,
    enabled        boolean NOT NULL DEFAULT true,
    installed_at   timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (application_id, package_id)
);
CREATE INDEX application_packages_package_idx ON application_packages(package_id);

CREATE TABLE application_provider_credentials (
    id                    text NOT NULL UNIQUE,
    application_id        text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    provider_id           text NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    credentials_encrypted text,
    enabled               boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    PRIMARY KEY (application_id, provider_id)
);
