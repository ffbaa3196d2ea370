-- OIDC module, CLI part (API.md §2.3, §7): signing keys published at /api/auth/jwks, OAuth clients (the
-- built-in public client appstrate-cli), pending device authorizations and the rotating refresh tokens of
-- CLI sessions.

-- ES256 signing keys. public_key is the public JWK (JSON); private_key a v1 envelope (platform keyring) of the
-- PKCS #8 DER private key. id is the JWT kid.
CREATE TABLE jwks (
    id          text PRIMARY KEY,
    public_key  text NOT NULL,
    private_key text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz
);

-- OAuth clients. client_secret is the SHA-256 hex of the secret (NULL for public clients); redirect_uris,
-- grant_types and scopes are JSON arrays of strings. level is immutable (trigger below).
CREATE TABLE oauth_clients (
    id                        text PRIMARY KEY,
    client_id                 text NOT NULL UNIQUE,
    client_secret             text,
    name                      text NOT NULL DEFAULT '',
    disabled                  boolean NOT NULL DEFAULT false,
    public                    boolean NOT NULL DEFAULT false,
    require_pkce              boolean NOT NULL DEFAULT true,
    redirect_uris             jsonb NOT NULL DEFAULT '[]',
    grant_types               jsonb NOT NULL DEFAULT '[]',
    scopes                    jsonb NOT NULL DEFAULT '[]',
    metadata                  text,
    level                     text NOT NULL CHECK (level IN ('instance', 'org', 'application')),
    referenced_org_id         text REFERENCES organizations(id) ON DELETE CASCADE,
    referenced_application_id text REFERENCES applications(id) ON DELETE CASCADE,
    allow_signup              boolean NOT NULL DEFAULT false,
    signup_role               text CHECK (signup_role IN ('admin', 'member', 'viewer')),
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    CHECK (level <> 'instance' OR (referenced_org_id IS NULL AND referenced_application_id IS NULL)),
    CHECK (level <> 'org' OR referenced_org_id IS NOT NULL),
    CHECK (level <> 'application' OR referenced_application_id IS NOT NULL)
);
CREATE FUNCTION oauth_clients_level_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.level <> OLD.level THEN
        RAISE EXCEPTION 'oauth_clients.level is immutable';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER oauth_clients_level_immutable BEFORE UPDATE OF level ON oauth_clients
    FOR EACH ROW EXECUTE FUNCTION oauth_clients_level_immutable();

-- RFC 8628 device authorizations. device_code holds the SHA-256 hex of the device code (the CLI's polling
-- secret); user_code the 8 characters the user types. polling_interval is in milliseconds; attempts counts
-- failed approval attempts on the code (5 lock it).
CREATE TABLE device_codes (
    id               text PRIMARY KEY,
    device_code      text NOT NULL UNIQUE,
    user_code        text NOT NULL UNIQUE,
    user_id          text REFERENCES users(id) ON DELETE CASCADE,
    client_id        text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    scope            text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    expires_at       timestamptz NOT NULL,
    last_polled_at   timestamptz,
    polling_interval integer NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX device_codes_expires_at_idx ON device_codes(expires_at);

-- Rotating refresh tokens of CLI sessions (RFC 6819 §5.2.2.3). token_hash is the SHA-256 hex of the token. A
-- family is one login: its first token's id is the family id, each rotation adds a child (parent_id) and marks
-- the parent used_at; the family head is its one unused token. Presenting a used token revokes the family.
CREATE TABLE cli_refresh_tokens (
    id             text PRIMARY KEY,
    token_hash     text NOT NULL UNIQUE,
    user_id        text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id      text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    family_id      text NOT NULL,
    parent_id      text,
    scope          text NOT NULL DEFAULT '',
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    revoked_at     timestamptz,
    revoked_reason text,
    device_name    text,
    user_agent     text,
    created_ip     text,
    last_used_ip   text,
    last_used_at   timestamptz,
    created_at     timestamptz NOT NULL
);
CREATE INDEX cli_refresh_tokens_family_idx ON cli_refresh_tokens(family_id);
CREATE INDEX cli_refresh_tokens_user_idx ON cli_refresh_tokens(user_id);
