package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

const appURL = "http://localhost:3000"

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func testKeyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kr, err := secrets.NewKeyring("k1", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

type fixture struct {
	svc   *Service
	db    *store.DB
	clock *clock
	kr    *secrets.Keyring
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	c := &clock{now: time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)}
	kr := testKeyring(t)
	svc := New(db, Options{AppURL: appURL, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now})
	if err := svc.Startup(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, db: db, clock: c, kr: kr}
}

func (f *fixture) user(t *testing.T, email, realm string) string {
	t.Helper()
	id := strings.ReplaceAll(email, "@", "_")
	now := isotime.Now()
	if _, err := f.db.ExecContext(t.Context(), `INSERT INTO users (id, name, email, email_verified, realm, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id, "Name of "+email, email, true, realm, now, now); err != nil {
		t.Fatal(err)
	}
	return id
}

// login runs the device flow for userID and returns the tokens.
func (f *fixture) login(t *testing.T, userID string) *TokenSet {
	t.Helper()
	ctx := t.Context()
	da, err := f.svc.RequestDeviceCode(ctx, CLIClientID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ApproveDevice(ctx, da.UserCode, Approver{UserID: userID, Realm: "platform"}); err != nil {
		t.Fatal(err)
	}
	set, err := f.svc.ExchangeDeviceCode(ctx, CLIClientID, da.DeviceCode, ClientInfo{IP: "192.0.2.1", UserAgent: "appstrate-cli/1", DeviceName: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func oauthCode(err error) string {
	var oe *Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	if err == nil {
		return ""
	}
	return "unexpected: " + err.Error()
}

func TestStartupCreatesClientAndEncryptedKeyOnce(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		if err := f.svc.Startup(ctx); err != nil {
			t.Fatal(err)
		}
		// A second process over the same database reuses the client and the key.
		other := New(db, Options{AppURL: appURL, Keyring: f.kr, Now: f.clock.Now})
		if err := other.Startup(ctx); err != nil {
			t.Fatal(err)
		}
		var clients, keys int
		_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_clients WHERE client_id = ?`, CLIClientID).Scan(&clients)
		_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM jwks`).Scan(&keys)
		if clients != 1 || keys != 1 {
			t.Fatalf("clients=%d keys=%d, want 1 and 1", clients, keys)
		}
		c, err := f.svc.client(ctx, db, CLIClientID)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Public || c.Disabled || c.Level != LevelInstance || !c.AllowsGrant(GrantDeviceCode) || !c.AllowsGrant(GrantRefreshToken) ||
			strings.Join(c.Scopes, " ") != "openid profile email offline_access" {
			t.Fatalf("client = %+v", c)
		}
		var envelope string
		_ = db.QueryRowContext(ctx, `SELECT private_key FROM jwks`).Scan(&envelope)
		if !strings.HasPrefix(envelope, "v1:k1:") {
			t.Fatalf("private key is not a keyring envelope: %.20q", envelope)
		}
		der, err := f.kr.Decrypt(envelope)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parsePrivateKey(der); err != nil {
			t.Fatal(err)
		}
		a, _ := f.svc.JWKS(ctx)
		b, _ := other.JWKS(ctx)
		if len(a.Keys) != 1 || len(b.Keys) != 1 || a.Keys[0] != b.Keys[0] {
			t.Fatalf("JWKS differ: %+v vs %+v", a, b)
		}
	})
}

func TestStartupWithoutKeyringStillCreatesTheClient(t *testing.T) {
	db := storetest.SQLite(t)
	svc := New(db, Options{AppURL: appURL})
	if err := svc.Startup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RequestDeviceCode(t.Context(), CLIClientID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.signingKey(t.Context()); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("signingKey without keyring: %v", err)
	}
}

func TestDevicePollingRules(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		uid := f.user(t, "ada@example.com", "platform")
		da, err := f.svc.RequestDeviceCode(ctx, CLIClientID, "openid email bogus")
		if err != nil {
			t.Fatal(err)
		}
		poll := func() error {
			_, err := f.svc.ExchangeDeviceCode(ctx, CLIClientID, da.DeviceCode, ClientInfo{})
			return err
		}
		steps := []struct {
			name    string
			advance time.Duration
			before  func()
			want    string
		}{
			{"first poll is pending", 0, nil, CodeAuthorizationPending},
			{"immediate second poll is too fast", 0, nil, CodeSlowDown},
			{"slow_down does not reset the interval", 1500 * time.Millisecond, nil, CodeSlowDown},
			{"after the interval: pending again", 600 * time.Millisecond, nil, CodeAuthorizationPending},
			{"approved: tokens", 2 * time.Second, func() {
				if err := f.svc.ApproveDevice(ctx, strings.ToLower(FormatUserCode(da.UserCode)), Approver{UserID: uid, Realm: "platform"}); err != nil {
					t.Fatal(err)
				}
			}, ""},
			{"single use", 2 * time.Second, nil, CodeInvalidGrant},
		}
		for _, s := range steps {
			f.clock.Add(s.advance)
			if s.before != nil {
				s.before()
			}
			if got := oauthCode(poll()); got != s.want {
				t.Fatalf("%s: got %q, want %q", s.name, got, s.want)
			}
		}
		if _, err := f.svc.ExchangeDeviceCode(ctx, "other-client", da.DeviceCode, ClientInfo{}); oauthCode(err) != CodeInvalidClient {
			t.Fatalf("unknown client: %v", err)
		}
	})
}

func TestDeviceCodeExpiryAndDenial(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		uid := f.user(t, "ada@example.com", "platform")

		expired, _ := f.svc.RequestDeviceCode(ctx, CLIClientID, "")
		f.clock.Add(DeviceCodeTTL)
		if _, err := f.svc.PendingDevice(ctx, expired.UserCode); !errors.Is(err, ErrDeviceCodeExpired) {
			t.Fatalf("PendingDevice after expiry: %v", err)
		}
		if err := f.svc.ApproveDevice(ctx, expired.UserCode, Approver{UserID: uid}); !errors.Is(err, ErrDeviceCodeExpired) {
			t.Fatalf("approve after expiry: %v", err)
		}
		if _, err := f.svc.ExchangeDeviceCode(ctx, CLIClientID, expired.DeviceCode, ClientInfo{}); oauthCode(err) != CodeExpiredToken {
			t.Fatalf("poll after expiry: %v", err)
		}
		if _, err := f.svc.ExchangeDeviceCode(ctx, CLIClientID, expired.DeviceCode, ClientInfo{}); oauthCode(err) != CodeInvalidGrant {
			t.Fatalf("expired code was not deleted: %v", err)
		}

		denied, _ := f.svc.RequestDeviceCode(ctx, CLIClientID, "")
		if err := f.svc.DenyDevice(ctx, denied.UserCode, Approver{UserID: uid, Realm: "platform"}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.ApproveDevice(ctx, denied.UserCode, Approver{UserID: uid, Realm: "platform"}); !errors.Is(err, ErrDeviceCodeHandled) {
			t.Fatalf("approve after deny: %v", err)
		}
		if _, err := f.svc.ExchangeDeviceCode(ctx, CLIClientID, denied.DeviceCode, ClientInfo{}); oauthCode(err) != CodeAccessDenied {
			t.Fatalf("poll after deny: %v", err)
		}
		if _, err := f.svc.ExchangeDeviceCode(ctx, CLIClientID, denied.DeviceCode, ClientInfo{}); oauthCode(err) != CodeInvalidGrant {
			t.Fatalf("denied code was not deleted: %v", err)
		}
	})
}

func TestRealmGuardAndLockout(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		uid := f.user(t, "ada@example.com", "platform")
		eu := f.user(t, "eu@example.com", "end_user:app_x")
		da, _ := f.svc.RequestDeviceCode(ctx, CLIClientID, "")
		for i := range MaxApprovalFailures {
			if err := f.svc.ApproveDevice(ctx, da.UserCode, Approver{UserID: eu, Realm: "end_user:app_x"}); !errors.Is(err, ErrRealmMismatch) {
				t.Fatalf("attempt %d by an end-user: %v", i+1, err)
			}
		}
		if err := f.svc.ApproveDevice(ctx, da.UserCode, Approver{UserID: uid, Realm: "platform"}); !errors.Is(err, ErrDeviceCodeLocked) {
			t.Fatalf("approve after 5 failures: %v", err)
		}
		if _, err := f.svc.ExchangeDeviceCode(ctx, CLIClientID, da.DeviceCode, ClientInfo{}); oauthCode(err) != CodeAccessDenied {
			t.Fatalf("poll of a locked code: %v", err)
		}
	})
}

func TestAccessTokenVerification(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		uid := f.user(t, "ada@example.com", "platform")
		set := f.login(t, uid)
		claims, err := f.svc.VerifyAccessToken(ctx, set.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject != uid || claims.Email != "ada@example.com" || claims.CLIFamilyID != set.FamilyID || claims.ActorType != "user" ||
			claims.AuthorizedParty != CLIClientID || claims.Scope != "openid profile email offline_access" || !claims.EmailVerified {
			t.Fatalf("claims = %+v", claims)
		}
		authn := func(token string) (int, string) {
			r := httptest.NewRequest("GET", "/api/orgs", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			p, err := f.svc.Authenticate(r)
			if err != nil {
				return 401, err.Error()
			}
			if p == nil {
				return 0, "not claimed"
			}
			if p.Method != auth.MethodOAuth2Instance || p.UserID != uid || p.Realm != "platform" || p.Email != "ada@example.com" {
				t.Fatalf("principal = %+v", p)
			}
			return 200, ""
		}
		if code, msg := authn(set.AccessToken); code != 200 {
			t.Fatalf("valid token refused: %s", msg)
		}
		if code, _ := authn("ask_0123"); code != 0 {
			t.Fatal("an API key was claimed by the JWT strategy")
		}

		// Forged tokens.
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		kid, _ := jwt.NewParser().Parse(set.AccessToken, nil)
		forge := func(method jwt.SigningMethod, key any, mutate func(jwt.MapClaims)) string {
			c := jwt.MapClaims{"iss": f.svc.Issuer(), "aud": f.svc.Issuer(), "sub": uid, "azp": CLIClientID, "actor_type": "user", "email": "ada@example.com",
				"iat": f.clock.Now().Unix(), "exp": f.clock.Now().Add(time.Minute).Unix(), "cli_family_id": set.FamilyID}
			if mutate != nil {
				mutate(c)
			}
			tok := jwt.NewWithClaims(method, c)
			tok.Header["kid"] = kid.Header["kid"]
			s, err := tok.SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		signing, _ := f.svc.signingKey(ctx)
		cases := map[string]string{
			"foreign key":       forge(jwt.SigningMethodES256, other, nil),
			"HS256":             forge(jwt.SigningMethodHS256, []byte("secret"), nil),
			"wrong issuer":      forge(jwt.SigningMethodES256, signing.priv, func(c jwt.MapClaims) { c["iss"] = "http://evil" }),
			"wrong audience":    forge(jwt.SigningMethodES256, signing.priv, func(c jwt.MapClaims) { c["aud"] = "http://evil" }),
			"no expiry":         forge(jwt.SigningMethodES256, signing.priv, func(c jwt.MapClaims) { delete(c, "exp") }),
			"unknown client":    forge(jwt.SigningMethodES256, signing.priv, func(c jwt.MapClaims) { c["azp"] = "nope" }),
			"end-user actor":    forge(jwt.SigningMethodES256, signing.priv, func(c jwt.MapClaims) { c["actor_type"] = "end_user" }),
			"unknown family":    forge(jwt.SigningMethodES256, signing.priv, func(c jwt.MapClaims) { c["cli_family_id"] = "crf_x" }),
			"family of another": forge(jwt.SigningMethodES256, signing.priv, func(c jwt.MapClaims) { c["sub"] = "someone-else" }),
			"truncated":         set.AccessToken[:len(set.AccessToken)-4],
		}
		for name, tok := range cases {
			if code, _ := authn(tok); code != 401 {
				t.Errorf("%s: status %d, want 401", name, code)
			}
		}
		// aud = APP_URL is accepted too.
		if code, msg := authn(forge(jwt.SigningMethodES256, signing.priv, func(c jwt.MapClaims) { c["aud"] = []string{appURL} })); code != 200 {
			t.Fatalf("aud APP_URL refused: %s", msg)
		}

		// Expiry: valid for 15 minutes.
		f.clock.Add(AccessTokenTTL - time.Second)
		if code, msg := authn(set.AccessToken); code != 200 {
			t.Fatalf("token refused before expiry: %s", msg)
		}
		f.clock.Add(2 * time.Second)
		if code, _ := authn(set.AccessToken); code != 401 {
			t.Fatal("expired token accepted")
		}

		// A disabled client stops its tokens.
		fresh := f.login(t, uid)
		if _, err := db.ExecContext(ctx, `UPDATE oauth_clients SET disabled = ? WHERE client_id = ?`, true, CLIClientID); err != nil {
			t.Fatal(err)
		}
		if code, _ := authn(fresh.AccessToken); code != 401 {
			t.Fatal("token of a disabled client accepted")
		}
		if _, err := f.svc.RequestDeviceCode(ctx, CLIClientID, ""); oauthCode(err) != CodeInvalidClient {
			t.Fatalf("device code for a disabled client: %v", err)
		}
	})
}

func TestLastUsedTouchedAtMostOncePerMinute(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		uid := f.user(t, "ada@example.com", "platform")
		set := f.login(t, uid)
		lastUsed := func() time.Time {
			var at isotime.Time
			_ = db.QueryRowContext(ctx, `SELECT last_used_at FROM cli_refresh_tokens WHERE family_id = ?`, set.FamilyID).Scan(&at)
			return at.Time
		}
		start := lastUsed()
		f.clock.Add(30 * time.Second)
		if err := f.svc.checkFamily(ctx, set.FamilyID, uid, "198.51.100.7"); err != nil {
			t.Fatal(err)
		}
		if !lastUsed().Equal(start) {
			t.Fatal("last_used_at written within a minute")
		}
		f.clock.Add(31 * time.Second)
		if err := f.svc.checkFamily(ctx, set.FamilyID, uid, "198.51.100.7"); err != nil {
			t.Fatal(err)
		}
		if !lastUsed().Equal(f.clock.Now().Truncate(time.Millisecond)) {
			t.Fatalf("last_used_at = %v, want %v", lastUsed(), f.clock.Now())
		}
	})
}

func TestRefreshRotationReuseAndExpiry(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		uid := f.user(t, "ada@example.com", "platform")
		first := f.login(t, uid)

		second, err := f.svc.Refresh(ctx, CLIClientID, first.RefreshToken, ClientInfo{IP: "192.0.2.9"})
		if err != nil {
			t.Fatal(err)
		}
		if second.FamilyID != first.FamilyID || second.RefreshToken == first.RefreshToken {
			t.Fatalf("rotation: %+v after %+v", second, first)
		}
		var parent, device string
		_ = db.QueryRowContext(ctx, `SELECT parent_id, device_name FROM cli_refresh_tokens WHERE token_hash = ?`,
			hashToken(second.RefreshToken)).Scan(&parent, &device)
		if parent != first.FamilyID || device != "laptop" {
			t.Fatalf("child parent=%q device=%q", parent, device)
		}
		var stored int
		_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cli_refresh_tokens WHERE token_hash = ? OR token_hash = ?`,
			first.RefreshToken, second.RefreshToken).Scan(&stored)
		if stored != 0 {
			t.Fatal("a raw refresh token is stored")
		}

		if _, err := f.svc.Refresh(ctx, "someone-else", second.RefreshToken, ClientInfo{}); oauthCode(err) != CodeInvalidClient {
			t.Fatalf("unknown client: %v", err)
		}
		// Replaying the first token revokes the family, including the live second token.
		_, err = f.svc.Refresh(ctx, CLIClientID, first.RefreshToken, ClientInfo{})
		var oe *Error
		if !errors.As(err, &oe) || oe.Code != CodeInvalidGrant || oe.Description != "Refresh token has been revoked." {
			t.Fatalf("reuse: %v", err)
		}
		if _, err := f.svc.Refresh(ctx, CLIClientID, second.RefreshToken, ClientInfo{}); oauthCode(err) != CodeInvalidGrant {
			t.Fatalf("family member after reuse: %v", err)
		}
		var live int
		_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cli_refresh_tokens WHERE family_id = ? AND (revoked_at IS NULL OR revoked_reason <> ?)`,
			first.FamilyID, RevokedReuse).Scan(&live)
		if live != 0 {
			t.Fatalf("%d tokens of the family not revoked for reuse", live)
		}
		if err := f.svc.checkFamily(ctx, first.FamilyID, uid, ""); !errors.Is(err, ErrInvalidAccessToken) {
			t.Fatalf("revoked family still authenticates: %v", err)
		}

		// Expiry after 30 days; unknown tokens.
		other := f.login(t, uid)
		f.clock.Add(RefreshTokenTTL)
		if _, err := f.svc.Refresh(ctx, CLIClientID, other.RefreshToken, ClientInfo{}); oauthCode(err) != CodeInvalidGrant {
			t.Fatalf("expired refresh token: %v", err)
		}
		if _, err := f.svc.Refresh(ctx, CLIClientID, "not-a-token", ClientInfo{}); oauthCode(err) != CodeInvalidGrant {
			t.Fatalf("unknown refresh token: %v", err)
		}
		if _, err := f.svc.Refresh(ctx, CLIClientID, "", ClientInfo{}); oauthCode(err) != CodeInvalidRequest {
			t.Fatalf("missing refresh token: %v", err)
		}
	})
}

// Two CLI processes refreshing with the same token at once: at most one wins, and a loser revokes the family
// (the hazard CLI.md A5 describes; the server must never hand out two live children).
func TestConcurrentRefreshNeverForksTheFamily(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		uid := f.user(t, "ada@example.com", "platform")
		set := f.login(t, uid)
		const n = 4
		results := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, results[i] = f.svc.Refresh(context.WithoutCancel(ctx), CLIClientID, set.RefreshToken, ClientInfo{})
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range results {
			switch oauthCode(err) {
			case "":
				wins++
			case CodeInvalidGrant:
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if wins > 1 {
			t.Fatalf("%d concurrent rotations succeeded", wins)
		}
		var liveHeads int
		_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cli_refresh_tokens WHERE family_id = ? AND used_at IS NULL AND revoked_at IS NULL`,
			set.FamilyID).Scan(&liveHeads)
		if liveHeads != 0 {
			t.Fatalf("%d live heads after concurrent reuse, want 0 (family revoked)", liveHeads)
		}
	})
}

func TestCLISessionOfARequest(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		set := f.login(t, f.user(t, "ada@example.com", "platform"))
		r := httptest.NewRequest("GET", "/api/runs", nil)
		r.Header.Set("Authorization", "Bearer "+set.AccessToken)
		family, device, ok, err := f.svc.CLISession(r)
		if err != nil || !ok || family != set.FamilyID || device != "laptop" {
			t.Fatalf("CLISession = %q %q %v %v", family, device, ok, err)
		}
		r.Header.Set("Authorization", "Bearer ask_0123")
		if _, _, ok, err := f.svc.CLISession(r); ok || err != nil {
			t.Fatalf("API key seen as a CLI session: %v %v", ok, err)
		}
	})
}
