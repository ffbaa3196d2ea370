package config

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// Environment names accepted by APP_ENV / NODE_ENV.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
	EnvTest        = "test"
)

// Config is the effective configuration of one appstrate process. Each field is documented with the
// environment variable it comes from; defaults and validation rules live in vars.go.
type Config struct {
	Env             string        // APP_ENV, else NODE_ENV: development | production | test
	Production      bool          // Env == "production"
	Port            int           // PORT (3000)
	AppURL          string        // APP_URL (http://localhost:<Port>), absolute http(s), no trailing slash
	TrustedOrigins  []string      // TRUSTED_ORIGINS (<origin of AppURL>,http://localhost:5173)
	TrustProxyHops  int           // TRUST_PROXY: false/"" = 0, true = 1, N = N hops
	BodyLimitBytes  int64         // API_BODY_LIMIT_BYTES (10485760)
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT_SECONDS (30)
	LogLevel        slog.Level    // LOG_LEVEL debug | info | warn | error (info)
	LogFormat       string        // LOG_FORMAT text | json (text; json in production)

	DataDir       string // DATA_DIR ($XDG_DATA_HOME/appstrate, else $HOME/.local/share/appstrate, else ./data), absolute
	DatabaseURL   string // DATABASE_URL: postgres:// URL; empty = SQLite at SQLitePath()
	RedisURL      string // REDIS_URL: redis:// or rediss:// URL
	FSStoragePath string // FS_STORAGE_PATH (<DataDir>/storage), absolute
	S3            S3Config

	BetterAuthSecret          string            // BETTER_AUTH_SECRET, ≥ 32 chars
	BetterAuthSecrets         map[string]string // BETTER_AUTH_SECRETS: JSON {kid: secret}
	BetterAuthActiveKID       string            // BETTER_AUTH_ACTIVE_KID (k1)
	ConnectionEncryptionKey   []byte            // CONNECTION_ENCRYPTION_KEY: standard base64 of 32 bytes
	ConnectionEncryptionKeyID string            // CONNECTION_ENCRYPTION_KEY_ID (k1)
	ConnectionEncryptionKeys  map[string][]byte // CONNECTION_ENCRYPTION_KEYS: JSON {kid: base64 key}, retired keys
	RunTokenSecret            string            // RUN_TOKEN_SECRET, ≥ 32 chars
	UploadSigningSecret       string            // UPLOAD_SIGNING_SECRET, ≥ 16 chars
	CookieDomain              string            // COOKIE_DOMAIN

	AuthDisableSignup        bool     // AUTH_DISABLE_SIGNUP (false)
	AuthDisableOrgCreation   bool     // AUTH_DISABLE_ORG_CREATION (false)
	AuthAllowedSignupDomains []string // AUTH_ALLOWED_SIGNUP_DOMAINS: comma list, lower-cased
	AuthPlatformAdminEmails  []string // AUTH_PLATFORM_ADMIN_EMAILS: comma list, lower-cased
	AuthBootstrapOwnerEmail  string   // AUTH_BOOTSTRAP_OWNER_EMAIL, lower-cased
	AuthBootstrapToken       string   // AUTH_BOOTSTRAP_TOKEN: base64url, 22–128 chars
	AuthBootstrapOrgName     string   // AUTH_BOOTSTRAP_ORG_NAME (Default)

	GoogleClientID     string // GOOGLE_CLIENT_ID
	GoogleClientSecret string // GOOGLE_CLIENT_SECRET
	GitHubClientID     string // GITHUB_CLIENT_ID
	GitHubClientSecret string // GITHUB_CLIENT_SECRET

	SMTPHost string // SMTP_HOST
	SMTPPort int    // SMTP_PORT (587)
	SMTPUser string // SMTP_USER
	SMTPPass string // SMTP_PASS
	SMTPFrom string // SMTP_FROM: an RFC 5322 address, e.g. "Appstrate <noreply@example.com>"

	Modules             []string             // MODULES: comma list (see DefaultModules)
	OIDCInstanceClients []OIDCInstanceClient // OIDC_INSTANCE_CLIENTS: JSON array ([])
	SystemProviderKeys  []SystemProviderKey  // SYSTEM_PROVIDER_KEYS: JSON array ([])
	SystemProxies       []SystemProxy        // SYSTEM_PROXIES: JSON array ([])
	ProxyURL            string               // PROXY_URL: outbound proxy used when no proxy is configured

	PlatformRunLimits     PlatformRunLimits     // PLATFORM_RUN_LIMITS: JSON object
	InlineRunLimits       InlineRunLimits       // INLINE_RUN_LIMITS: JSON object
	LLMProxyLimits        LLMProxyLimits        // LLM_PROXY_LIMITS: JSON object
	LLMProxyCacheMode     string                // LLM_PROXY_CACHE_MODE off | simple (off)
	LLMProxyCacheMaxAge   time.Duration         // LLM_PROXY_CACHE_MAX_AGE seconds (3600)
	CredentialProxyLimits CredentialProxyLimits // CREDENTIAL_PROXY_LIMITS: JSON object

	RunAdapter     string // RUN_ADAPTER: "" (automatic) | process | bwrap | docker
	DockerSocket   string // DOCKER_SOCKET (/var/run/docker.sock)
	PiImage        string // PI_IMAGE (appstrate-pi:latest)
	SidecarImage   string // SIDECAR_IMAGE (appstrate-sidecar:latest)
	PlatformAPIURL string // PLATFORM_API_URL: platform URL as seen from sandboxes

	RunHeartbeatInterval      time.Duration // RUN_HEARTBEAT_INTERVAL_SECONDS (15)
	RunStallThreshold         time.Duration // RUN_STALL_THRESHOLD_SECONDS (60), > heartbeat interval
	RunWatchdogInterval       time.Duration // RUN_WATCHDOG_INTERVAL_SECONDS (15)
	OAuthRefreshWorkerEnabled bool          // OAUTH_REFRESH_WORKER_ENABLED (false)

	RemoteRunSinkMaxTTL       time.Duration        // REMOTE_RUN_SINK_MAX_TTL_SECONDS (86400)
	RemoteRunSinkDefaultTTL   time.Duration        // REMOTE_RUN_SINK_DEFAULT_TTL_SECONDS (7200), ≤ max TTL
	RemoteRunEventLimits      RemoteRunEventLimits // REMOTE_RUN_EVENT_LIMITS: JSON object
	RemoteRunReplayWindow     time.Duration        // REMOTE_RUN_REPLAY_WINDOW_SECONDS (600)
	RemoteRunBufferFlush      time.Duration        // REMOTE_RUN_BUFFER_FLUSH_MS (5000)
	WebhookTimestampTolerance time.Duration        // WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS (300), < replay window

	AFPSSignaturePolicy string       // AFPS_SIGNATURE_POLICY off | warn | required (off)
	AFPSTrustRoot       []TrustedKey // AFPS_TRUST_ROOT: JSON array ([])

	LegalTermsURL   string // LEGAL_TERMS_URL
	LegalPrivacyURL string // LEGAL_PRIVACY_URL
}

// S3Config selects S3-compatible object storage (Tier 3) when Bucket is set.
type S3Config struct {
	Bucket          string // S3_BUCKET
	Region          string // S3_REGION, required when Bucket is set
	Endpoint        string // S3_ENDPOINT: custom endpoint (MinIO, R2, …)
	PublicEndpoint  string // S3_PUBLIC_ENDPOINT: endpoint used in presigned URLs handed to clients
	AccessKeyID     string // S3_ACCESS_KEY_ID (with S3_SECRET_ACCESS_KEY; both empty = default credential chain)
	SecretAccessKey string // S3_SECRET_ACCESS_KEY
}

// Setting is one line of the effective configuration, named after its environment variable.
// Secret settings carry "[redacted]" (or "" when unset), or a URL with its password replaced.
type Setting struct {
	Name   string
	Value  string
	Secret bool
}

// Error reports one invalid environment variable. Value is the offending value, already redacted
// for secret-bearing variables; it is empty when the variable is missing.
type Error struct {
	Var      string
	Value    string
	Expected string
}

func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s is not set: expected %s", e.Var, e.Expected)
	}
	return fmt.Sprintf("%s=%q is invalid: expected %s", e.Var, e.Value, e.Expected)
}

// Load reads every variable from lookup (os.LookupEnv in production code, a map in tests), in the
// order of the table in vars.go, and returns the first invalid one as an *Error.
// Missing secrets are not an error here; see EnsureSecrets.
func Load(lookup func(string) (string, bool)) (*Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	e := env{lookup: lookup}
	c := &Config{}
	for _, v := range variables {
		if err := v.load(c, e.get(v.name)); err != nil {
			return nil, redactError(err)
		}
	}
	return c, nil
}

// Tier is the infrastructure tier the environment selects: 0 SQLite, 1 Postgres (DATABASE_URL),
// 2 Postgres + Redis (REDIS_URL), 3 Postgres + Redis + S3 (S3_BUCKET). Each tier requires the
// previous ones; components still pick their implementation from the individual fields.
func (c *Config) Tier() int {
	switch {
	case c.DatabaseURL == "":
		return 0
	case c.RedisURL == "":
		return 1
	case c.S3.Bucket == "":
		return 2
	default:
		return 3
	}
}

// SQLitePath is the embedded database file used when DATABASE_URL is unset.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "appstrate.db") }

// SMTPEnabled reports whether outgoing mail is configured (host, user, password and sender all set).
func (c *Config) SMTPEnabled() bool {
	return c.SMTPHost != "" && c.SMTPUser != "" && c.SMTPPass != "" && c.SMTPFrom != ""
}

// AuthSecret is the secret that signs sessions: BETTER_AUTH_SECRETS[BETTER_AUTH_ACTIVE_KID] when
// present, else BETTER_AUTH_SECRET.
func (c *Config) AuthSecret() string {
	if s := c.BetterAuthSecrets[c.BetterAuthActiveKID]; s != "" {
		return s
	}
	return c.BetterAuthSecret
}

// env reads raw variables; values are trimmed.
type env struct{ lookup func(string) (string, bool) }

// value is one variable as its loader sees it. raw is "" when the variable is unset or empty.
type value struct {
	name string
	raw  string
	set  bool
	env  env
}

func (e env) get(name string) value {
	raw, ok := e.lookup(name)
	return value{name: name, raw: strings.TrimSpace(raw), set: ok, env: e}
}

// bad builds the *Error for this variable.
func (v value) bad(expected string) *Error {
	return &Error{Var: v.name, Value: v.raw, Expected: expected}
}
