-- AFPS package registry: packages (drafts), immutable versions, dist-tags, version dependencies,
-- per-application installations and per-application provider credentials.

CREATE TABLE packages (
    id             TEXT PRIMARY KEY CHECK (id GLOB '@[a-z0-9]*/[a-z0-9]*' AND id NOT GLOB '*[^a-z0-9@/-]*' AND length(id) - length(replace(id, '/', '')) = 1 AND length(id) - length(replace(id, '@', '')) = 1),
    org_id         TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    type           TEXT NOT NULL CHECK (type IN ('agent', 'skill', 'tool', 'provider')),
    source         TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'system')),
    draft_manifest TEXT NOT NULL DEFAULT '{}',
    draft_content  TEXT NOT NULL DEFAULT '',
    auto_installed INTEGER NOT NULL DEFAULT 0 CHECK (auto_installed IN (0, 1)),
    lock_version   INTEGER NOT NULL DEFAULT 1,
    forked_from    TEXT,
    ephemeral      INTEGER NOT NULL DEFAULT 0 CHECK (ephemeral IN (0, 1)),
    created_by     TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX packages_org_type_idx ON packages(org_id, type);

CREATE TABLE package_versions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id    TEXT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    version       TEXT NOT NULL,
    integrity     TEXT NOT NULL,
    artifact_size INTEGER NOT NULL,
    manifest      TEXT NOT NULL,
    yanked        INTEGER NOT NULL DEFAULT 0 CHECK (yanked IN (0, 1)),
    yanked_reason TEXT,
    created_by    TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at    TIMESTAMP NOT NULL,
    UNIQUE (package_id, version)
);

CREATE TABLE package_dist_tags (
    package_id TEXT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    version_id INTEGER NOT NULL REFERENCES package_versions(id) ON DELETE CASCADE,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (package_id, tag)
);

CREATE TABLE package_version_dependencies (
    version_id    INTEGER NOT NULL REFERENCES package_versions(id) ON DELETE CASCADE,
    dep_scope     TEXT NOT NULL,
    dep_name      TEXT NOT NULL,
    dep_type      TEXT NOT NULL CHECK (dep_type IN ('agent', 'skill', 'tool', 'provider')),
    version_range TEXT NOT NULL,
    PRIMARY KEY (version_id, dep_scope, dep_name)
);

CREATE TABLE application_packages (
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    package_id     TEXT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    version_id     INTEGER REFERENCES package_versions(id) ON DELETE SET NULL,
    config         TEXT NOT NULL DEFAULT '{}',
    model_id       TEXT,
    proxy_id       TEXT,
    app_profile_id TEXT REFERENCES connection_profiles(id) ON DELETE SET NULL,
    enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    installed_at   TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (application_id, package_id)
);
CREATE INDEX application_packages_package_idx ON application_packages(package_id);

CREATE TABLE application_provider_credentials (
    id                    TEXT NOT NULL UNIQUE,
    application_id        TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    provider_id           TEXT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    credentials_encrypted TEXT,
    enabled               INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    PRIMARY KEY (application_id, provider_id)
);
