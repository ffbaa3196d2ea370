-- Provider connections (API.md §7, PACKAGES.md §4.4–§4.6): stored credentials per connection profile and per
-- application credential row, per-agent provider→profile overrides, application-profile bindings, pending OAuth
-- flows (state, TTL 600 s) and the credential proxy's usage ledger.

-- One connection per (profile, provider, org, application credential row): the application credential id is
-- what isolates one application's connections from another's. credentials_encrypted is a v1 envelope of the
-- JSON credential map; scopes_granted a JSON array.
CREATE TABLE user_provider_connections (
    id                     text PRIMARY KEY,
    profile_id             text NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    provider_id            text NOT NULL,
    org_id                 text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider_credential_id text NOT NULL REFERENCES application_provider_credentials(id) ON DELETE CASCADE,
    credentials_encrypted  text NOT NULL,
    scopes_granted         jsonb NOT NULL DEFAULT '[]',
    needs_reconnection     boolean NOT NULL DEFAULT false,
    expires_at             timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    UNIQUE (profile_id, provider_id, org_id, provider_credential_id)
);
CREATE INDEX user_provider_connections_credential_idx ON user_provider_connections(provider_credential_id);
CREATE INDEX user_provider_connections_org_provider_idx ON user_provider_connections(org_id, provider_id);

-- Per-actor, per-agent provider → connection profile overrides (exactly one of user_id / end_user_id).
CREATE TABLE user_agent_provider_profiles (
    user_id     text REFERENCES users(id) ON DELETE CASCADE,
    end_user_id text REFERENCES end_users(id) ON DELETE CASCADE,
    package_id  text NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    provider_id text NOT NULL,
    profile_id  text NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CHECK ((user_id IS NOT NULL)::int + (end_user_id IS NOT NULL)::int = 1)
);
CREATE UNIQUE INDEX user_agent_provider_profiles_user_idx ON user_agent_provider_profiles(user_id, package_id, provider_id)
    WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX user_agent_provider_profiles_end_user_idx ON user_agent_provider_profiles(end_user_id, package_id, provider_id)
    WHERE end_user_id IS NOT NULL;
CREATE INDEX user_agent_provider_profiles_profile_idx ON user_agent_provider_profiles(profile_id);

-- An application profile delegates one provider slot to a member's own profile.
CREATE TABLE app_profile_provider_bindings (
    app_profile_id    text NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    provider_id       text NOT NULL,
    source_profile_id text NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    bound_by_user_id  text REFERENCES users(id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (app_profile_id, provider_id)
);
CREATE INDEX app_profile_provider_bindings_source_idx ON app_profile_provider_bindings(source_profile_id);

-- At most one default profile per user and per end-user (race-safe creation of the "Default" profile).
CREATE UNIQUE INDEX connection_profiles_user_default_idx ON connection_profiles(user_id) WHERE user_id IS NOT NULL AND is_default;
CREATE UNIQUE INDEX connection_profiles_end_user_default_idx ON connection_profiles(end_user_id) WHERE end_user_id IS NOT NULL AND is_default;

-- Pending OAuth flows (the upstream cache key oauth-state:<state>): one-shot, 600 s. lookup_key is the OAuth 2 state
-- or the OAuth 1.0a request token; payload_encrypted a v1 envelope (it holds the PKCE verifier or the request
-- token secret).
CREATE TABLE oauth_states (
    lookup_key        text PRIMARY KEY,
    payload_encrypted text NOT NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL
);
CREATE INDEX oauth_states_expires_idx ON oauth_states(expires_at);

-- One row per credential proxy call (no credentials, no URL path: the host only).
CREATE TABLE credential_proxy_usage (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id         text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    application_id text REFERENCES applications(id) ON DELETE CASCADE,
    api_key_id     text,
    user_id        text,
    end_user_id    text,
    run_id         text,
    provider_id    text NOT NULL,
    target_host    text NOT NULL,
    http_status    integer NOT NULL,
    duration_ms    integer NOT NULL,
    cost_usd       double precision NOT NULL DEFAULT 0,
    request_id     text NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL
);
CREATE INDEX credential_proxy_usage_org_idx ON credential_proxy_usage(org_id, created_at);
