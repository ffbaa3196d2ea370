package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// API key format (API.md §2.4): "ask_" + 48 lowercase hex digits (24 random bytes).
const (
	APIKeyPrefix    = "ask_"
	apiKeyRandBytes = 24
	apiKeyLen       = len(APIKeyPrefix) + 2*apiKeyRandBytes
	apiKeyShownLen  = 8 // key_prefix: "ask_" + 4 hex digits
)

// apiKeyTouchInterval is the minimum time between two last_used_at writes for one key.
const apiKeyTouchInterval = time.Minute

// Errors of the API key service.
var (
	// ErrInvalidAPIKey is the authentication failure of a malformed, unknown, revoked or expired key. Its
	// message is the 401 detail.
	//lint:ignore ST1005 the message is the wire detail of the 401
	ErrInvalidAPIKey = errors.New("Invalid or expired API key")
	// ErrAuthUnavailable is returned by Authenticate when the key cannot be checked (database error); the
	// cause is logged, never sent.
	//lint:ignore ST1005 the message is the wire detail of the 401
	ErrAuthUnavailable = errors.New("Authentication is temporarily unavailable")
	// ErrAPIKeyNotFound means no active key with that id exists in the caller's scope.
	ErrAPIKeyNotFound = errors.New("API key not found")
	// ErrExpiryInPast rejects a creation whose expiresAt is not in the future.
	ErrExpiryInPast = errors.New("expiresAt must be in the future")
)

// APIKeys owns API keys: creation, listing, revocation and authentication (the Strategy the pipeline tries
// first). The zero value is not usable; build it with NewAPIKeys.
type APIKeys struct {
	db     *store.DB
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time // key id → last time a last_used_at write was started
	pending sync.WaitGroup
}

// NewAPIKeys returns the service over db. It does not touch the database.
func NewAPIKeys(db *store.DB, logger *slog.Logger) *APIKeys {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &APIKeys{db: db, logger: logger, now: time.Now, touched: map[string]time.Time{}}
}

// GenerateAPIKey returns a fresh raw key with its stored hash and display prefix.
func GenerateAPIKey() (raw, hash, prefix string, err error) {
	b := make([]byte, apiKeyRandBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", "", fmt.Errorf("generate api key: %w", err)
	}
	raw = APIKeyPrefix + hex.EncodeToString(b)
	return raw, HashAPIKey(raw), raw[:apiKeyShownLen], nil
}

// HashAPIKey is the stored form of a key: SHA-256 of the full key, lowercase hex.
func HashAPIKey(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// WellFormedAPIKey reports whether s has the exact shape of an API key.
func WellFormedAPIKey(s string) bool {
	if len(s) != apiKeyLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return false
	}
	for i := len(APIKeyPrefix); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ParseBearer extracts the token of an `Authorization: Bearer <token>` header value. The scheme is
// case-insensitive; the token is one run of non-blank characters. ok is false for any other shape.
func ParseBearer(header string) (token string, ok bool) {
	header = strings.Trim(header, " \t")
	i := strings.IndexAny(header, " \t")
	if i < 0 || !strings.EqualFold(header[:i], "bearer") {
		return "", false
	}
	token = strings.Trim(header[i:], " \t")
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", false
	}
	return token, true
}

// AcceptsQueryToken reports whether r may carry its API key as `?token=ask_…`: only GET requests on the
// realtime (SSE) streams, whose browser clients cannot set headers.
func AcceptsQueryToken(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/realtime/")
}

// apiKeyCredential returns the API key presented by r, if any: a Bearer token starting with "ask_", or on
// realtime streams a `token` query parameter starting with "ask_".
func apiKeyCredential(r *http.Request) (string, bool) {
	if token, ok := ParseBearer(r.Header.Get("Authorization")); ok {
		if strings.HasPrefix(token, APIKeyPrefix) {
			return token, true
		}
		return "", false
	}
	if AcceptsQueryToken(r) {
		if token := r.URL.Query().Get("token"); strings.HasPrefix(token, APIKeyPrefix) {
			return token, true
		}
	}
	return "", false
}

// Authenticate implements the pipeline Strategy: it claims `Authorization: Bearer ask_…` (and `?token=ask_…`
// on realtime GETs), returns (nil, nil) for any other request, ErrInvalidAPIKey for a malformed, unknown,
// revoked or expired key, and otherwise a principal pinned to the key's organization and application. The
// pipeline computes the permissions (scopes ∩ the creator's current role).
func (k *APIKeys) Authenticate(r *http.Request) (*Principal, error) {
	raw, ok := apiKeyCredential(r)
	if !ok {
		return nil, nil
	}
	if !WellFormedAPIKey(raw) {
		return nil, ErrInvalidAPIKey
	}
	ctx := r.Context()
	var (
		id, orgID, appID string
		createdBy        *string
		scopesJSON       []byte
		expires, revoked isotime.Time
	)
	err := k.db.QueryRowContext(ctx, `SELECT id, org_id, application_id, scopes, created_by, expires_at, revoked_at
		FROM api_keys WHERE key_hash = ?`, HashAPIKey(raw)).Scan(&id, &orgID, &appID, &scopesJSON, &createdBy, &expires, &revoked)
	if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidAPIKey
	}
	if err != nil {
		k.logger.ErrorContext(ctx, "api key lookup failed", "error", err)
		return nil, ErrAuthUnavailable
	}
	now := k.now()
	if !revoked.IsZero() || (!expires.IsZero() && !expires.After(now)) || createdBy == nil {
		return nil, ErrInvalidAPIKey
	}
	scopes, err := apiKeyDecodeScopes(scopesJSON)
	if err != nil {
		k.logger.ErrorContext(ctx, "api key scopes unreadable", "apiKeyId", id, "error", err)
		return nil, ErrInvalidAPIKey
	}
	k.touch(ctx, id, now)
	return &Principal{Method: MethodAPIKey, APIKeyID: id, APIKeyScopes: scopes, UserID: *createdBy,
		OrgID: orgID, ApplicationID: appID}, nil
}

// touch records last_used_at in the background, at most once per apiKeyTouchInterval per key and process.
func (k *APIKeys) touch(ctx context.Context, id string, now time.Time) {
	k.mu.Lock()
	if last, ok := k.touched[id]; ok && now.Sub(last) < apiKeyTouchInterval {
		k.mu.Unlock()
		return
	}
	k.touched[id] = now
	k.pending.Add(1)
	k.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer k.pending.Done()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := k.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, isotime.From(now), id); err != nil {
			k.logger.WarnContext(ctx, "api key last_used_at not recorded", "apiKeyId", id, "error", err)
		}
	}()
}

// Wait blocks until the background last_used_at writes started so far are done (shutdown, tests).
func (k *APIKeys) Wait() { k.pending.Wait() }

// Startup revokes the keys that expired while the server was down (API.md §2.4: expired keys get
// revoked_at at boot) and returns how many it revoked.
func (k *APIKeys) Startup(ctx context.Context) (int64, error) {
	now := isotime.From(k.now())
	res, err := k.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ?
		WHERE revoked_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?`, now, now)
	if err != nil {
		return 0, fmt.Errorf("revoke expired api keys: %w", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		k.logger.InfoContext(ctx, "revoked expired api keys", "count", n)
	}
	return n, nil
}

// NewAPIKey is a creation request. The caller fills the org, app and creator from the principal.
type NewAPIKey struct {
	OrgID         string
	ApplicationID string
	CreatedBy     string
	CreatorRole   Role // the ceiling of the grantable scopes
	Name          string
	ExpiresAt     isotime.Time // zero = never
	Scopes        []string     // nil/empty = every grantable scope of CreatorRole
}

// CreatedAPIKey is the result of a creation; Key is the only time the raw key exists outside the caller.
type CreatedAPIKey struct {
	ID        string
	Key       string
	KeyPrefix string
	Scopes    []string
}

// APIKeyInfo is a listed key (never its secret).
type APIKeyInfo struct {
	ID            string
	Name          string
	KeyPrefix     string
	Scopes        []string
	CreatedBy     *string
	CreatedByName *string
	ExpiresAt     isotime.Time
	LastUsedAt    isotime.Time
	RevokedAt     isotime.Time
	CreatedAt     isotime.Time
}

// Create stores a new key and returns its raw value once. Scopes are normalised against the creator's
// role (unknown or non-grantable ones are dropped silently). by carries the audit actor and request data.
func (k *APIKeys) Create(ctx context.Context, in NewAPIKey, by audit.Event) (CreatedAPIKey, error) {
	now := isotime.From(k.now())
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now.Time) {
		return CreatedAPIKey{}, ErrExpiryInPast
	}
	raw, hash, prefix, err := GenerateAPIKey()
	if err != nil {
		return CreatedAPIKey{}, err
	}
	scopes := NormalizeScopes(in.Scopes, in.CreatorRole)
	scopesJSON, err := json.Marshal(scopes)
	if err != nil {
		return CreatedAPIKey{}, fmt.Errorf("encode scopes: %w", err)
	}
	id := ids.UUID()
	err = k.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, org_id, application_id, name, key_hash, key_prefix,
			scopes, created_by, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, in.OrgID, in.ApplicationID, in.Name, hash, prefix, string(scopesJSON), in.CreatedBy, in.ExpiresAt, now); err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		by.OrgID, by.ApplicationID = in.OrgID, in.ApplicationID
		by.Action, by.ResourceType, by.ResourceID = "api_key.created", "api_key", id
		by.After = map[string]any{"name": in.Name, "keyPrefix": prefix, "scopes": scopes, "expiresAt": in.ExpiresAt}
		audit.Record(ctx, tx, by)
		return nil
	})
	if err != nil {
		return CreatedAPIKey{}, err
	}
	return CreatedAPIKey{ID: id, Key: raw, KeyPrefix: prefix, Scopes: scopes}, nil
}

// List returns the non-revoked keys of an application, newest first.
func (k *APIKeys) List(ctx context.Context, orgID, appID string) ([]APIKeyInfo, error) {
	rows, err := k.db.QueryContext(ctx, `SELECT k.id, k.name, k.key_prefix, k.scopes, k.created_by, u.name,
		k.expires_at, k.last_used_at, k.revoked_at, k.created_at
		FROM api_keys k LEFT JOIN users u ON u.id = k.created_by
		WHERE k.org_id = ? AND k.application_id = ? AND k.revoked_at IS NULL
		ORDER BY k.created_at DESC, k.id DESC`, orgID, appID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	out := []APIKeyInfo{}
	for rows.Next() {
		var (
			info       APIKeyInfo
			scopesJSON []byte
		)
		if err := rows.Scan(&info.ID, &info.Name, &info.KeyPrefix, &scopesJSON, &info.CreatedBy, &info.CreatedByName,
			&info.ExpiresAt, &info.LastUsedAt, &info.RevokedAt, &info.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan api key: %w", err)
		}
		if info.Scopes, err = apiKeyDecodeScopes(scopesJSON); err != nil {
			return nil, fmt.Errorf("api key %s: %w", info.ID, err)
		}
		out = append(out, info)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// Revoke marks an active key of orgID as revoked. appID restricts the key to one application ("" = any
// application of the organization, for session callers). Unknown or already revoked → ErrAPIKeyNotFound.
func (k *APIKeys) Revoke(ctx context.Context, orgID, appID, id string, by audit.Event) error {
	if !ids.ValidUUID(id) {
		return ErrAPIKeyNotFound
	}
	now := isotime.From(k.now())
	return k.db.InTx(ctx, func(tx *store.Tx) error {
		var keyApp, name string
		err := tx.QueryRowContext(ctx, `SELECT application_id, name FROM api_keys
			WHERE id = ? AND org_id = ? AND revoked_at IS NULL`, id, orgID).Scan(&keyApp, &name)
		if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) || (err == nil && appID != "" && keyApp != appID) {
			return ErrAPIKeyNotFound
		}
		if err != nil {
			return fmt.Errorf("find api key: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, now, id); err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		by.OrgID, by.ApplicationID = orgID, keyApp
		by.Action, by.ResourceType, by.ResourceID = "api_key.revoked", "api_key", id
		by.Before = map[string]any{"name": name}
		audit.Record(ctx, tx, by)
		return nil
	})
}

func apiKeyDecodeScopes(raw []byte) ([]string, error) {
	scopes := []string{}
	if len(raw) == 0 {
		return scopes, nil
	}
	if err := json.Unmarshal(raw, &scopes); err != nil {
		return nil, fmt.Errorf("decode scopes: %w", err)
	}
	return scopes, nil
}
