-- Identity and tenancy: accounts and sessions (Better Auth compatible), organizations, members,
-- invitations, applications, end-users, API keys, connection profiles, audit trail.

CREATE TABLE users (
    id             text PRIMARY KEY,
    name           text NOT NULL DEFAULT '',
    email          text NOT NULL UNIQUE,
    email_verified boolean NOT NULL DEFAULT false,
    image          text,
    realm          text NOT NULL DEFAULT 'platform',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE sessions (
    id          text PRIMARY KEY,
    token       text NOT NULL UNIQUE,
    user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    ip_address  text,
    user_agent  text,
    realm       text NOT NULL DEFAULT 'platform',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions(user_id);

CREATE TABLE accounts (
    id                       text PRIMARY KEY,
    account_id               text NOT NULL,
    provider_id              text NOT NULL,
    user_id                  text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    access_token             text,
    refresh_token            text,
    id_token                 text,
    access_token_expires_at  timestamptz,
    refresh_token_expires_at timestamptz,
    scope                    text,
    password                 text,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    UNIQUE (provider_id, account_id)
);
CREATE INDEX accounts_user_id_idx ON accounts(user_id);

CREATE TABLE verifications (
    id         text PRIMARY KEY,
    identifier text NOT NULL,
    value      text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX verifications_identifier_idx ON verifications(identifier);

CREATE TABLE profiles (
    id           text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    display_name text NOT NULL DEFAULT '',
    language     text NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE organizations (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    slug         text NOT NULL UNIQUE,
    org_settings jsonb NOT NULL DEFAULT '{}',
    created_by   text REFERENCES users(id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE org_members (
    org_id    text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id   text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role      text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user_id_idx ON org_members(user_id);

CREATE TABLE org_invitations (
    id          text PRIMARY KEY,
    token       text NOT NULL UNIQUE,
    email       text NOT NULL,
    org_id      text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'expired', 'cancelled')),
    invited_by  text REFERENCES users(id) ON DELETE SET NULL,
    accepted_by text REFERENCES users(id) ON DELETE SET NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    created_at  timestamptz NOT NULL
);
CREATE INDEX org_invitations_org_id_idx ON org_invitations(org_id);

CREATE TABLE applications (
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name       text NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    settings   jsonb NOT NULL DEFAULT '{}',
    created_by text REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX applications_org_id_idx ON applications(org_id);
CREATE UNIQUE INDEX applications_one_default_per_org ON applications(org_id) WHERE is_default = true;

CREATE TABLE end_users (
    id             text PRIMARY KEY,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    org_id         text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    external_id    text,
    name           text,
    email          text,
    metadata       jsonb,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX end_users_external_id_per_app ON end_users(application_id, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX end_users_email_per_app ON end_users(application_id, email) WHERE email IS NOT NULL;
CREATE INDEX end_users_app_created_idx ON end_users(application_id, created_at DESC, id DESC);

CREATE TABLE api_keys (
    id             text PRIMARY KEY,
    org_id         text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name           text NOT NULL,
    key_hash       text NOT NULL UNIQUE,
    key_prefix     text NOT NULL,
    scopes         jsonb NOT NULL DEFAULT '[]',
    created_by     text REFERENCES users(id) ON DELETE SET NULL,
    expires_at     timestamptz,
    last_used_at   timestamptz,
    revoked_at     timestamptz,
    created_at     timestamptz NOT NULL
);
CREATE INDEX api_keys_app_idx ON api_keys(application_id);

CREATE TABLE connection_profiles (
    id             text PRIMARY KEY,
    user_id        text REFERENCES users(id) ON DELETE CASCADE,
    end_user_id    text REFERENCES end_users(id) ON DELETE CASCADE,
    application_id text REFERENCES applications(id) ON DELETE CASCADE,
    name           text NOT NULL,
    is_default     boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK ((user_id IS NOT NULL)::int + (end_user_id IS NOT NULL)::int + (application_id IS NOT NULL)::int = 1)
);
CREATE INDEX connection_profiles_user_idx ON connection_profiles(user_id);
CREATE INDEX connection_profiles_end_user_idx ON connection_profiles(end_user_id);
CREATE INDEX connection_profiles_app_idx ON connection_profiles(application_id);

CREATE TABLE user_application_profiles (
    user_id        text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    profile_id     text NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (user_id, application_id)
);

CREATE TABLE audit_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id         text,
    application_id text,
    actor_type     text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'end_user')),
    actor_id       text,
    action         text NOT NULL,
    resource_type  text,
    resource_id    text,
    before         jsonb,
    after          jsonb,
    ip             text,
    user_agent     text,
    request_id     text,
    created_at     timestamptz NOT NULL
);
CREATE INDEX audit_events_org_idx ON audit_events(org_id, created_at);
