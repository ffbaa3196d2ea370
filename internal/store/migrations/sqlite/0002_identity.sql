-- Identity and tenancy: accounts and sessions (Better Auth compatible), organizations, members,
-- invitations, applications, end-users, API keys, connection profiles, audit trail.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    image          TEXT,
    realm          TEXT NOT NULL DEFAULT 'platform',
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    token       TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at  TIMESTAMP NOT NULL,
    ip_address  TEXT,
    user_agent  TEXT,
    realm       TEXT NOT NULL DEFAULT 'platform',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions(user_id);

CREATE TABLE accounts (
    id                       TEXT PRIMARY KEY,
    account_id               TEXT NOT NULL,
    provider_id              TEXT NOT NULL,
    user_id                  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    access_token             TEXT,
    refresh_token            TEXT,
    id_token                 TEXT,
    access_token_expires_at  TIMESTAMP,
    refresh_token_expires_at TIMESTAMP,
    scope                    TEXT,
    password                 TEXT,
    created_at               TIMESTAMP NOT NULL,
    updated_at               TIMESTAMP NOT NULL,
    UNIQUE (provider_id, account_id)
);
CREATE INDEX accounts_user_id_idx ON accounts(user_id);

CREATE TABLE verifications (
    id         TEXT PRIMARY KEY,
    identifier TEXT NOT NULL,
    value      TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX verifications_identifier_idx ON verifications(identifier);

CREATE TABLE profiles (
    id           TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    display_name TEXT NOT NULL DEFAULT '',
    language     TEXT NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en')),
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

CREATE TABLE organizations (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    slug         TEXT NOT NULL UNIQUE,
    org_settings TEXT NOT NULL DEFAULT '{}',
    created_by   TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

CREATE TABLE org_members (
    org_id    TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    joined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user_id_idx ON org_members(user_id);

CREATE TABLE org_invitations (
    id          TEXT PRIMARY KEY,
    token       TEXT NOT NULL UNIQUE,
    email       TEXT NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'expired', 'cancelled')),
    invited_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
    accepted_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    expires_at  TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX org_invitations_org_id_idx ON org_invitations(org_id);

CREATE TABLE applications (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    settings   TEXT NOT NULL DEFAULT '{}',
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX applications_org_id_idx ON applications(org_id);
CREATE UNIQUE INDEX applications_one_default_per_org ON applications(org_id) WHERE is_default = 1;

CREATE TABLE end_users (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    external_id    TEXT,
    name           TEXT,
    email          TEXT,
    metadata       TEXT,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX end_users_external_id_per_app ON end_users(application_id, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX end_users_email_per_app ON end_users(application_id, email) WHERE email IS NOT NULL;
CREATE INDEX end_users_app_created_idx ON end_users(application_id, created_at DESC, id DESC);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    key_hash       TEXT NOT NULL UNIQUE,
    key_prefix     TEXT NOT NULL,
    scopes         TEXT NOT NULL DEFAULT '[]',
    created_by     TEXT REFERENCES users(id) ON DELETE SET NULL,
    expires_at     TIMESTAMP,
    last_used_at   TIMESTAMP,
    revoked_at     TIMESTAMP,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX api_keys_app_idx ON api_keys(application_id);

CREATE TABLE connection_profiles (
    id             TEXT PRIMARY KEY,
    user_id        TEXT REFERENCES users(id) ON DELETE CASCADE,
    end_user_id    TEXT REFERENCES end_users(id) ON DELETE CASCADE,
    application_id TEXT REFERENCES applications(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    is_default     INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CHECK ((user_id IS NOT NULL) + (end_user_id IS NOT NULL) + (application_id IS NOT NULL) = 1)
);
CREATE INDEX connection_profiles_user_idx ON connection_profiles(user_id);
CREATE INDEX connection_profiles_end_user_idx ON connection_profiles(end_user_id);
CREATE INDEX connection_profiles_app_idx ON connection_profiles(application_id);

CREATE TABLE user_application_profiles (
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    profile_id     TEXT NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    updated_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, application_id)
);

CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         TEXT,
    application_id TEXT,
    actor_type     TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'end_user')),
    actor_id       TEXT,
    action         TEXT NOT NULL,
    resource_type  TEXT,
    resource_id    TEXT,
    before         TEXT,
    after          TEXT,
    ip             TEXT,
    user_agent     TEXT,
    request_id     TEXT,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_org_idx ON audit_events(org_id, created_at);
