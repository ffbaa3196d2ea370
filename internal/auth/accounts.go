package auth

import (
	"context"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/mail"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Session lifetimes of Better Auth's defaults, as upstream configures them.
const (
	SessionExpiresIn         = 7 * 24 * time.Hour // session lifetime, renewed on use
	SessionUpdateAge         = 24 * time.Hour     // a session is renewed at most once per day
	DontRememberSessionTTL   = 24 * time.Hour     // sign-in with rememberMe=false
	VerificationTokenTTL     = time.Hour          // email verification links
	PasswordResetTokenTTL    = time.Hour          // password reset links
	credentialProviderID     = "credential"
	verificationPrefix       = "email-verification:"
	passwordResetPrefix      = "reset-password:"
	bootstrapRedeemedMetaKey = "bootstrap_token_redeemed"
)

// Options configure Accounts; OptionsFromConfig reads them from the environment.
type Options struct {
	AppURL         string   // APP_URL: links in mails, cookie security
	TrustedOrigins []string // TRUSTED_ORIGINS (APP_URL's origin is always trusted)
	Secret         string   // active signing secret (Config.AuthSecret)
	OldSecrets     []string // every other secret still accepted when verifying cookies
	CookieDomain   string   // COOKIE_DOMAIN

	Signup           SignupPolicy
	BootstrapToken   string // AUTH_BOOTSTRAP_TOKEN
	BootstrapOrgName string // AUTH_BOOTSTRAP_ORG_NAME

	// Mailer sends verification and reset mails; nil turns off email verification and password reset mails.
	Mailer mail.Sender
	Logger *slog.Logger
}

// OptionsFromConfig maps the configuration to Options. mailer may be nil (no SMTP).
func OptionsFromConfig(cfg *config.Config, mailer mail.Sender, logger *slog.Logger) Options {
	var old []string
	for _, s := range cfg.BetterAuthSecrets {
		old = append(old, s)
	}
	old = append(old, cfg.BetterAuthSecret)
	return Options{
		AppURL:         cfg.AppURL,
		TrustedOrigins: cfg.TrustedOrigins,
		Secret:         cfg.AuthSecret(),
		OldSecrets:     old,
		CookieDomain:   cfg.CookieDomain,
		Signup: SignupPolicy{
			Disabled:            cfg.AuthDisableSignup,
			AllowedDomains:      cfg.AuthAllowedSignupDomains,
			PlatformAdminEmails: cfg.AuthPlatformAdminEmails,
			BootstrapOwnerEmail: cfg.AuthBootstrapOwnerEmail,
		},
		BootstrapToken:   cfg.AuthBootstrapToken,
		BootstrapOrgName: cfg.AuthBootstrapOrgName,
		Mailer:           mailer,
		Logger:           logger,
	}
}

// Accounts owns users, credential accounts, sessions, email verification, password reset and the bootstrap
// token: the Better Auth compatible identity layer. It is safe for concurrent use.
type Accounts struct {
	db      *store.DB
	opts    Options
	signer  *CookieSigner
	cookies CookieSettings
	log     *slog.Logger
	now     func() time.Time

	// HasPendingInvitation reports whether email has a pending, unexpired organization invitation (which
	// lets it sign up when the signup policy would refuse it). Set by the application; nil = never.
	HasPendingInvitation func(ctx context.Context, email string) (bool, error)
	// CreateBootstrapOrg creates the first organization for the bootstrap owner. Set by the application;
	// nil = no organization is created.
	CreateBootstrapOrg func(ctx context.Context, userID, orgName string) error

	redeemMu sync.Mutex // one bootstrap redemption at a time in this process
}

// NewAccounts builds the service; it does not touch the database (db may be nil to describe the API).
func NewAccounts(db *store.DB, opts Options) *Accounts {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BootstrapOrgName == "" {
		opts.BootstrapOrgName = "Default"
	}
	u, _ := url.Parse(opts.AppURL)
	return &Accounts{
		db:      db,
		opts:    opts,
		signer:  NewCookieSigner(opts.Secret, opts.OldSecrets...),
		cookies: CookieSettings{Secure: u != nil && u.Scheme == "https", Domain: opts.CookieDomain},
		log:     opts.Logger,
		now:     time.Now,
	}
}

// RequireEmailVerification reports whether new accounts must verify their address before signing in
// (true when mail is configured).
func (a *Accounts) RequireEmailVerification() bool { return a.opts.Mailer != nil }

// Cookies returns the cookie settings of this deployment.
func (a *Accounts) Cookies() CookieSettings { return a.cookies }

// Signer returns the cookie signer.
func (a *Accounts) Signer() *CookieSigner { return a.signer }

// IsTrustedOrigin reports whether origin (scheme://host[:port]) is APP_URL's or one of TRUSTED_ORIGINS.
func (a *Accounts) IsTrustedOrigin(origin string) bool {
	if origin == "" {
		return false
	}
	if origin == originOf(a.opts.AppURL) {
		return true
	}
	for _, o := range a.opts.TrustedOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// IsTrustedURL reports whether a callback or redirect URL may be used: a path on this site ("/x", not
// "//host") or an absolute URL on a trusted origin.
func (a *Accounts) IsTrustedURL(raw string) bool {
	if raw == "" {
		return true
	}
	if strings.HasPrefix(raw, "/") {
		lower := strings.ToLower(raw)
		return !strings.HasPrefix(lower, "//") && !strings.HasPrefix(lower, "/\\") && !strings.HasPrefix(lower, "/%2f") &&
			!strings.HasPrefix(lower, "/%5c") && relativePath.MatchString(raw)
	}
	return a.IsTrustedOrigin(originOf(raw))
}

// relativePath is the shape of the relative callback URLs Better Auth accepts.
var relativePath = regexp.MustCompile(`^/[\w\-.+/@]*(\?[\w\-.+/=&%@]*)?$`)

// AbsoluteURL resolves a trusted callback (possibly a path) against APP_URL.
func (a *Accounts) AbsoluteURL(raw string) string {
	if strings.HasPrefix(raw, "/") {
		return strings.TrimRight(a.opts.AppURL, "/") + raw
	}
	return raw
}

// originOf returns scheme://host[:port] of an absolute http(s) URL, or "".
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// OriginOf is originOf for callers checking Origin and Referer headers.
func OriginOf(raw string) string { return originOf(raw) }
