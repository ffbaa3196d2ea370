-- OIDC module, CLI part (API.md §2.3, §7): signing keys published at /api/auth/jwks, OAuth clients (the
-- built-in public client appstrate-cli), pending device authorizations and the rotating refresh tokens of
-- CLI sessions.

-- ES256 signing keys. public_key is the public JWK (JSON); private_key a v1 envelope (platform keyring) of the
-- PKCS #8 DER private key. id is the JWT kid.
CREATE TABLE jwks (
    id          TEXT PRIMARY KEY,
    public_key  TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP
);

-- OAuth clients. client_secret is the SHA-256 hex of the secret (NULL for public clients); redirect_uris,
-- grant_types and scopes are JSON arrays of strings. level is immutable (trigger below).
CREATE TABLE oauth_clients (
    id                        TEXT PRIMARY KEY,
    client_id                 TEXT NOT NULL UNIQUE,
    client_secret             TEXT,
    name                      TEXT NOT NULL DEFAULT '',
    disabled                  INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    public                    INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    require_pkce              INTEGER NOT NULL DEFAULT 1 CHECK (require_pkce IN (0, 1)),
    redirect_uris             TEXT NOT NULL DEFAULT '[]',
    grant_types               TEXT NOT NULL DEFAULT '[]',
    scopes                    TEXT NOT NULL DEFAULT '[]',
    metadata                  TEXT,
    level                     TEXT NOT NULL CHECK (level IN ('instance', 'org', 'application')),
    referenced_org_id         TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    referenced_application_id TEXT REFERENCES applications(id) ON DELETE CASCADE,
    allow_signup              INTEGER NOT NULL DEFAULT 0 CHECK (allow_signup IN (0, 1)),
    signup_role               TEXT CHECK (signup_role IN ('admin', 'member', 'viewer')),
    created_at                TIMESTAMP NOT NULL,
    updated_at                TIMESTAMP NOT NULL,
    CHECK (level <> 'instance' OR (referenced_org_id IS NULL AND referenced_application_id IS NULL)),
    CHECK (level <> 'org' OR referenced_org_id IS NOT NULL),
    CHECK (level <> 'application' OR referenced_application_id IS NOT NULL)
);
CREATE TRIGGER oauth_clients_level_immutable BEFORE UPDATE OF level ON oauth_clients
    WHEN NEW.level <> OLD.level
BEGIN
    SELECT RAISE(ABORT, 'oauth_clients.level is immutable');
END;

-- RFC 8628 device authorizations. device_code holds the SHA-256 hex of the device code (the CLI's polling
-- secret); user_code the 8 characters the user types. polling_interval is in milliseconds; attempts counts
-- failed approval attempts on the code (5 lock it).
CREATE TABLE device_codes (
    id               TEXT PRIMARY KEY,
    device_code      TEXT NOT NULL UNIQUE,
    user_code        TEXT NOT NULL UNIQUE,
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    client_id        TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    scope            TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    expires_at       TIMESTAMP NOT NULL,
    last_polled_at   TIMESTAMP,
    polling_interval INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX device_codes_expires_at_idx ON device_codes(expires_at);

-- Rotating refresh tokens of CLI sessions (RFC 6819 §5.2.2.3). token_hash is the SHA-256 hex of the token. A
-- family is one login: its first token's id is the family id, each rotation adds a child (parent_id) and marks
-- the parent used_at; the family head is its one unused token. Presenting a used token revokes the family.
CREATE TABLE cli_refresh_tokens (
    id             TEXT PRIMARY KEY,
    token_hash     TEXT NOT NULL UNIQUE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    family_id      TEXT NOT NULL,
    parent_id      TEXT,
    scope          TEXT NOT NULL DEFAULT '',
    expires_at     TIMESTAMP NOT NULL,
    used_at        TIMESTAMP,
    revoked_at     TIMESTAMP,
    revoked_reason TEXT,
    device_name    TEXT,
    user_agent     TEXT,
    created_ip     TEXT,
    last_used_ip   TEXT,
    last_used_at   TIMESTAMP,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX cli_refresh_tokens_family_idx ON cli_refresh_tokens(family_id);
CREATE INDEX cli_refresh_tokens_user_idx ON cli_refresh_tokens(user_id);
