-- Provider connections (API.md §7, PACKAGES.md §4.4–§4.6): stored credentials per connection profile and per
-- application credential row, per-agent provider→profile overrides, application-profile bindings, pending OAuth
-- flows (state, TTL 600 s) and the credential proxy's usage ledger.

-- One connection per (profile, provider, org, application credential row): the application credential id is
-- what isolates one application's connections from another's. credentials_encrypted is a v1 envelope of the
-- JSON credential map; scopes_granted a JSON array.
CREATE TABLE user_provider_connections (
    id                     TEXT PRIMARY KEY,
    profile_id             TEXT NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    provider_id            TEXT NOT NULL,
    org_id                 TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider_credential_id TEXT NOT NULL REFERENCES application_provider_credentials(id) ON DELETE CASCADE,
    credentials_encrypted  TEXT NOT NULL,
    scopes_granted         TEXT NOT NULL DEFAULT '[]',
    needs_reconnection     INTEGER NOT NULL DEFAULT 0 CHECK (needs_reconnection IN (0, 1)),
    expires_at             TIMESTAMP,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL,
    UNIQUE (profile_id, provider_id, org_id, provider_credential_id)
);
CREATE INDEX user_provider_connections_credential_idx ON user_provider_connections(provider_credential_id);
CREATE INDEX user_provider_connections_org_provider_idx ON user_provider_connections(org_id, provider_id);

-- Per-actor, per-agent provider → connection profile overrides (exactly one of user_id / end_user_id).
CREATE TABLE user_agent_provider_profiles (
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    end_user_id TEXT REFERENCES end_users(id) ON DELETE CASCADE,
    package_id  TEXT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL,
    profile_id  TEXT NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CHECK ((user_id IS NOT NULL) + (end_user_id IS NOT NULL) = 1)
);
CREATE UNIQUE INDEX user_agent_provider_profiles_user_idx ON user_agent_provider_profiles(user_id, package_id, provider_id)
    WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX user_agent_provider_profiles_end_user_idx ON user_agent_provider_profiles(end_user_id, package_id, provider_id)
    WHERE end_user_id IS NOT NULL;
CREATE INDEX user_agent_provider_profiles_profile_idx ON user_agent_provider_profiles(profile_id);

-- An application profile delegates one provider slot to a member's own profile.
CREATE TABLE app_profile_provider_bindings (
    app_profile_id    TEXT NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    provider_id       TEXT NOT NULL,
    source_profile_id TEXT NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    bound_by_user_id  TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (app_profile_id, provider_id)
);
CREATE INDEX app_profile_provider_bindings_source_idx ON app_profile_provider_bindings(source_profile_id);

-- At most one default profile per user and per end-user (race-safe creation of the "Default" profile).
CREATE UNIQUE INDEX connection_profiles_user_default_idx ON connection_profiles(user_id) WHERE user_id IS NOT NULL AND is_default = 1;
CREATE UNIQUE INDEX connection_profiles_end_user_default_idx ON connection_profiles(end_user_id) WHERE end_user_id IS NOT NULL AND is_default = 1;

-- Pending OAuth flows (the upstream cache key oauth-state:<state>): one-shot, 600 s. lookup_key is the OAuth 2 state
-- or the OAuth 1.0a request token; payload_encrypted a v1 envelope (it holds the PKCE verifier or the request
-- token secret).
CREATE TABLE oauth_states (
    lookup_key        TEXT PRIMARY KEY,
    payload_encrypted TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    expires_at        TIMESTAMP NOT NULL
);
CREATE INDEX oauth_states_expires_idx ON oauth_states(expires_at);

-- One row per credential proxy call (no credentials, no URL path: the host only).
CREATE TABLE credential_proxy_usage (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    application_id TEXT REFERENCES applications(id) ON DELETE CASCADE,
    api_key_id     TEXT,
    user_id        TEXT,
    end_user_id    TEXT,
    run_id         TEXT,
    provider_id    TEXT NOT NULL,
    target_host    TEXT NOT NULL,
    http_status    INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    cost_usd       REAL NOT NULL DEFAULT 0,
    request_id     TEXT NOT NULL UNIQUE,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX credential_proxy_usage_org_idx ON credential_proxy_usage(org_id, created_at);
