package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Lifetimes and limits of API.md §2.3.
const (
	AccessTokenTTL      = 15 * time.Minute    // expires_in 900
	RefreshTokenTTL     = 30 * 24 * time.Hour // refresh_expires_in 2592000
	DeviceCodeTTL       = 10 * time.Minute    // expires_in 600
	PollingInterval     = 2 * time.Second     // interval 2
	MaxApprovalFailures = 5                   // failed approve/deny attempts that lock a user code
	jwksCacheTTL        = 5 * time.Minute
	jwksRefetchGap      = time.Second // an unknown kid refetches the keys at most this often
	lastUsedTouchEvery  = time.Minute // last_used_at of a family head is written at most this often
	tokenBytes          = 32          // refresh tokens and device codes
	maxTokenInput       = 512         // longer presented tokens are refused unread
	deviceNameMax       = 255         // X-Appstrate-Device-Name is truncated to this
	userAgentMax        = 512         // User-Agent is truncated to this
	activatePath        = "/activate" // the browser approval page
	issuerPath          = "/api/auth" // iss = aud = <APP_URL>/api/auth
	ActorTypeUser       = "user"      // actor_type of instance-level clients
	ActorTypeDashboard  = "dashboard_user"
	ActorTypeEndUser    = "end_user"
)

// Options configure the service.
type Options struct {
	AppURL  string           // APP_URL without trailing slash
	Keyring *secrets.Keyring // encrypts the private signing keys at rest; nil refuses to create keys
	Logger  *slog.Logger
	Now     func() time.Time // clock (tests); nil = time.Now
}

// Service is the CLI half of the OIDC module. It is safe for concurrent use; the constructor does not touch
// the database (nil db describes the API only).
type Service struct {
	db      *store.DB
	appURL  string
	keyring *secrets.Keyring
	log     *slog.Logger
	now     func() time.Time

	bootMu   sync.Mutex
	bootDone bool

	keys keyCache
}

// New builds the service.
func New(db *store.DB, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: db, appURL: strings.TrimRight(opts.AppURL, "/"), keyring: opts.Keyring, log: opts.Logger, now: opts.Now}
}

// Issuer is the iss (and aud) of the access tokens: <APP_URL>/api/auth.
func (s *Service) Issuer() string { return s.appURL + issuerPath }

// VerificationURI is the page where users approve a device: <APP_URL>/activate.
func (s *Service) VerificationURI() string { return s.appURL + activatePath }

// Startup creates what the module needs at boot: the appstrate-cli client and a signing key. Requests call
// it too (once per process until it succeeds), so a platform assembled without Startup works the same.
func (s *Service) Startup(ctx context.Context) error {
	s.bootMu.Lock()
	defer s.bootMu.Unlock()
	if s.bootDone {
		return nil
	}
	if err := s.ensureCLIClient(ctx); err != nil {
		return err
	}
	if _, err := s.signingKey(ctx); err != nil && !errors.Is(err, ErrNoKeyring) {
		return err
	}
	s.bootDone = true
	return nil
}

// ready runs Startup when it has not succeeded yet.
func (s *Service) ready(ctx context.Context) error {
	s.bootMu.Lock()
	done := s.bootDone
	s.bootMu.Unlock()
	if done {
		return nil
	}
	return s.Startup(ctx)
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hashToken is the SHA-256 hex stored for refresh tokens and device codes.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// clean makes a client-supplied string (header) storable: valid UTF-8, no NUL, trimmed, at most n bytes
// cut on a rune boundary.
func clean(s string, n int) string {
	s = strings.TrimSpace(strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", ""))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// nullable turns "" into SQL NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func wrap(op string, err error) error { return fmt.Errorf("oidc: %s: %w", op, err) }

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
