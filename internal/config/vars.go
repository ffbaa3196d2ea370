package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultModules is the value of MODULES when it is unset.
func DefaultModules() []string {
	return []string{"oidc", "webhooks", "core-providers", "@appstrate/module-codex", "@appstrate/module-claude-code"}
}

// variables is every environment variable, in the order Load checks them (the first bad one is
// reported) and Redacted prints them. A variable may depend on the ones above it (APP_URL on PORT,
// S3_REGION on S3_BUCKET, WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS on REMOTE_RUN_REPLAY_WINDOW_SECONDS, …).
var variables = slices.Concat(serverVars(), storageVars(), secretVars(), authVars(), integrationVars(),
	limitVars(), runVars(), remoteRunVars(), packageVars())

func serverVars() []variable {
	return []variable{
		appEnvVar(),
		intVar("PORT", 3000, 1, 65535, func(c *Config) *int { return &c.Port }),
		field("APP_URL", func(c *Config) *string { return &c.AppURL },
			func(c *Config) string { return fmt.Sprintf("http://localhost:%d", c.Port) },
			parseBaseURL, identity).then(checkProductionHTTPS),
		listVar("TRUSTED_ORIGINS", defaultOrigins, func(c *Config) *[]string { return &c.TrustedOrigins }, parseOrigin),
		field("TRUST_PROXY", func(c *Config) *int { return &c.TrustProxyHops }, constant(0), parseTrustProxy, strconv.Itoa),
		field("API_BODY_LIMIT_BYTES", func(c *Config) *int64 { return &c.BodyLimitBytes }, constant[int64](10<<20),
			parsePositiveInt64, func(n int64) string { return strconv.FormatInt(n, 10) }),
		durationVar("SHUTDOWN_TIMEOUT_SECONDS", 30, 1, 3600, time.Second,
			func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
		field("LOG_LEVEL", func(c *Config) *slog.Level { return &c.LogLevel }, constant(slog.LevelInfo),
			parseLogLevel, formatLogLevel),
		field("LOG_FORMAT", func(c *Config) *string { return &c.LogFormat }, defaultLogFormat,
			oneOf("text", "json"), identity),
	}
}

func storageVars() []variable {
	return []variable{
		dataDirVar(),
		checkedVar("DATABASE_URL", "", func(c *Config) *string { return &c.DatabaseURL }, parseDatabaseURL).masked(),
		checkedVar("REDIS_URL", "", func(c *Config) *string { return &c.RedisURL }, parseRedisURL).masked(),
		field("FS_STORAGE_PATH", func(c *Config) *string { return &c.FSStoragePath },
			func(c *Config) string { return filepath.Join(c.DataDir, "storage") }, parseDir, identity),
		checkedVar("S3_BUCKET", "", func(c *Config) *string { return &c.S3.Bucket }, parseWord),
		checkedVar("S3_REGION", "", func(c *Config) *string { return &c.S3.Region }, parseWord).then(requireRegion),
		checkedVar("S3_ENDPOINT", "", func(c *Config) *string { return &c.S3.Endpoint }, parseBaseURL),
		checkedVar("S3_PUBLIC_ENDPOINT", "", func(c *Config) *string { return &c.S3.PublicEndpoint }, parseBaseURL),
		checkedVar("S3_ACCESS_KEY_ID", "", func(c *Config) *string { return &c.S3.AccessKeyID }, parseWord),
		stringVar("S3_SECRET_ACCESS_KEY", "", func(c *Config) *string { return &c.S3.SecretAccessKey }).secret().
			then(pairCheck("S3_ACCESS_KEY_ID", func(c *Config) string { return c.S3.AccessKeyID },
				func(c *Config) string { return c.S3.SecretAccessKey })),
	}
}

func secretVars() []variable {
	return []variable{
		secretVar("BETTER_AUTH_SECRET", 32, func(c *Config) *string { return &c.BetterAuthSecret }),
		jsonVar("BETTER_AUTH_SECRETS", func(c *Config) *map[string]string { return &c.BetterAuthSecrets },
			func() map[string]string { return map[string]string{} }, "a JSON object {\"<kid>\": \"<secret of 32+ characters>\"}",
			validateAuthSecrets).secretJSON(),
		checkedVar("BETTER_AUTH_ACTIVE_KID", "k1", func(c *Config) *string { return &c.BetterAuthActiveKID }, parseKID),
		field("CONNECTION_ENCRYPTION_KEY", func(c *Config) *[]byte { return &c.ConnectionEncryptionKey },
			constant[[]byte](nil), parseEncryptionKey, formatBase64).secret(),
		checkedVar("CONNECTION_ENCRYPTION_KEY_ID", "k1", func(c *Config) *string { return &c.ConnectionEncryptionKeyID },
			parseKID),
		jsonVar("CONNECTION_ENCRYPTION_KEYS", func(c *Config) *map[string][]byte { return &c.ConnectionEncryptionKeys },
			func() map[string][]byte { return map[string][]byte{} },
			"a JSON object {\"<kid>\": \"<standard base64 of 32 bytes>\"} of retired keys", validateRetiredKeys).
			secretJSON().then(checkRetiredKeys),
		secretVar("RUN_TOKEN_SECRET", 32, func(c *Config) *string { return &c.RunTokenSecret }),
		secretVar("UPLOAD_SIGNING_SECRET", 16, func(c *Config) *string { return &c.UploadSigningSecret }),
		checkedVar("COOKIE_DOMAIN", "", func(c *Config) *string { return &c.CookieDomain }, parseCookieDomain),
	}
}

func authVars() []variable {
	none := constant[[]string](nil)
	return []variable{
		boolVar("AUTH_DISABLE_SIGNUP", false, func(c *Config) *bool { return &c.AuthDisableSignup }),
		boolVar("AUTH_DISABLE_ORG_CREATION", false, func(c *Config) *bool { return &c.AuthDisableOrgCreation }),
		listVar("AUTH_ALLOWED_SIGNUP_DOMAINS", none, func(c *Config) *[]string { return &c.AuthAllowedSignupDomains },
			parseDomain),
		listVar("AUTH_PLATFORM_ADMIN_EMAILS", none, func(c *Config) *[]string { return &c.AuthPlatformAdminEmails },
			parseEmail),
		checkedVar("AUTH_BOOTSTRAP_OWNER_EMAIL", "", func(c *Config) *string { return &c.AuthBootstrapOwnerEmail },
			parseEmail),
		checkedVar("AUTH_BOOTSTRAP_TOKEN", "", func(c *Config) *string { return &c.AuthBootstrapToken },
			parseBootstrapToken).secret(),
		stringVar("AUTH_BOOTSTRAP_ORG_NAME", "Default", func(c *Config) *string { return &c.AuthBootstrapOrgName }),
	}
}

func integrationVars() []variable {
	return []variable{
		stringVar("GOOGLE_CLIENT_ID", "", func(c *Config) *string { return &c.GoogleClientID }),
		stringVar("GOOGLE_CLIENT_SECRET", "", func(c *Config) *string { return &c.GoogleClientSecret }).secret().
			then(pairCheck("GOOGLE_CLIENT_ID", func(c *Config) string { return c.GoogleClientID },
				func(c *Config) string { return c.GoogleClientSecret })),
		stringVar("GITHUB_CLIENT_ID", "", func(c *Config) *string { return &c.GitHubClientID }),
		stringVar("GITHUB_CLIENT_SECRET", "", func(c *Config) *string { return &c.GitHubClientSecret }).secret().
			then(pairCheck("GITHUB_CLIENT_ID", func(c *Config) string { return c.GitHubClientID },
				func(c *Config) string { return c.GitHubClientSecret })),
		checkedVar("SMTP_HOST", "", func(c *Config) *string { return &c.SMTPHost }, parseWord),
		intVar("SMTP_PORT", 587, 1, 65535, func(c *Config) *int { return &c.SMTPPort }),
		stringVar("SMTP_USER", "", func(c *Config) *string { return &c.SMTPUser }),
		stringVar("SMTP_PASS", "", func(c *Config) *string { return &c.SMTPPass }).secret(),
		checkedVar("SMTP_FROM", "", func(c *Config) *string { return &c.SMTPFrom }, parseMailbox),
		modulesVar(),
		jsonVar("OIDC_INSTANCE_CLIENTS", func(c *Config) *[]OIDCInstanceClient { return &c.OIDCInstanceClients },
			func() []OIDCInstanceClient { return []OIDCInstanceClient{} },
			"a JSON array of {clientId, clientSecret?, name, redirectUris, postLogoutRedirectUris?, scopes?, skipConsent?}",
			validateOIDCClients).secretJSON(),
		jsonVar("SYSTEM_PROVIDER_KEYS", func(c *Config) *[]SystemProviderKey { return &c.SystemProviderKeys },
			func() []SystemProviderKey { return []SystemProviderKey{} },
			"a JSON array of {id, label?, providerId, apiKey, baseUrlOverride?, models: [{modelId, label?, isDefault?, …}]}",
			validateProviderKeys).secretJSON(),
		jsonVar("SYSTEM_PROXIES", func(c *Config) *[]SystemProxy { return &c.SystemProxies },
			func() []SystemProxy { return []SystemProxy{} }, "a JSON array of {id, label, url, isDefault?, enabled?}",
			validateProxies).secretJSON(),
		checkedVar("PROXY_URL", "", func(c *Config) *string { return &c.ProxyURL }, parseProxyURL).masked(),
	}
}

func limitVars() []variable {
	return []variable{
		jsonVar("PLATFORM_RUN_LIMITS", func(c *Config) *PlatformRunLimits { return &c.PlatformRunLimits },
			DefaultPlatformRunLimits, objectShape[PlatformRunLimits](), PlatformRunLimits.validate),
		jsonVar("INLINE_RUN_LIMITS", func(c *Config) *InlineRunLimits { return &c.InlineRunLimits },
			DefaultInlineRunLimits, objectShape[InlineRunLimits](), InlineRunLimits.validate),
		jsonVar("LLM_PROXY_LIMITS", func(c *Config) *LLMProxyLimits { return &c.LLMProxyLimits },
			DefaultLLMProxyLimits, objectShape[LLMProxyLimits](), LLMProxyLimits.validate),
		enumVar("LLM_PROXY_CACHE_MODE", "off", []string{"off", "simple"},
			func(c *Config) *string { return &c.LLMProxyCacheMode }),
		durationVar("LLM_PROXY_CACHE_MAX_AGE", 3600, 1, 30*86400, time.Second,
			func(c *Config) *time.Duration { return &c.LLMProxyCacheMaxAge }),
		jsonVar("CREDENTIAL_PROXY_LIMITS", func(c *Config) *CredentialProxyLimits { return &c.CredentialProxyLimits },
			DefaultCredentialProxyLimits, objectShape[CredentialProxyLimits](), CredentialProxyLimits.validate),
	}
}

func runVars() []variable {
	return []variable{
		checkedVar("RUN_ADAPTER", "", func(c *Config) *string { return &c.RunAdapter }, parseRunAdapter),
		checkedVar("DOCKER_SOCKET", "/var/run/docker.sock", func(c *Config) *string { return &c.DockerSocket }, parseWord),
		checkedVar("PI_IMAGE", "appstrate-pi:latest", func(c *Config) *string { return &c.PiImage }, parseWord),
		checkedVar("SIDECAR_IMAGE", "appstrate-sidecar:latest", func(c *Config) *string { return &c.SidecarImage },
			parseWord),
		checkedVar("PLATFORM_API_URL", "", func(c *Config) *string { return &c.PlatformAPIURL }, parseBaseURL),
		durationVar("RUN_HEARTBEAT_INTERVAL_SECONDS", 15, 1, 3600, time.Second,
			func(c *Config) *time.Duration { return &c.RunHeartbeatInterval }),
		durationVar("RUN_STALL_THRESHOLD_SECONDS", 60, 1, 86400, time.Second,
			func(c *Config) *time.Duration { return &c.RunStallThreshold }).
			then(greaterThan("RUN_HEARTBEAT_INTERVAL_SECONDS", func(c *Config) (a, b time.Duration) {
				return c.RunStallThreshold, c.RunHeartbeatInterval
			})),
		durationVar("RUN_WATCHDOG_INTERVAL_SECONDS", 15, 1, 3600, time.Second,
			func(c *Config) *time.Duration { return &c.RunWatchdogInterval }),
		boolVar("OAUTH_REFRESH_WORKER_ENABLED", false, func(c *Config) *bool { return &c.OAuthRefreshWorkerEnabled }),
	}
}

func remoteRunVars() []variable {
	return []variable{
		durationVar("REMOTE_RUN_SINK_MAX_TTL_SECONDS", 86400, 1, 30*86400, time.Second,
			func(c *Config) *time.Duration { return &c.RemoteRunSinkMaxTTL }),
		durationVar("REMOTE_RUN_SINK_DEFAULT_TTL_SECONDS", 7200, 1, 30*86400, time.Second,
			func(c *Config) *time.Duration { return &c.RemoteRunSinkDefaultTTL }).
			then(notAbove("REMOTE_RUN_SINK_MAX_TTL_SECONDS", func(c *Config) (a, b time.Duration) {
				return c.RemoteRunSinkDefaultTTL, c.RemoteRunSinkMaxTTL
			})),
		jsonVar("REMOTE_RUN_EVENT_LIMITS", func(c *Config) *RemoteRunEventLimits { return &c.RemoteRunEventLimits },
			DefaultRemoteRunEventLimits, objectShape[RemoteRunEventLimits](), RemoteRunEventLimits.validate),
		durationVar("REMOTE_RUN_REPLAY_WINDOW_SECONDS", 600, 1, 86400, time.Second,
			func(c *Config) *time.Duration { return &c.RemoteRunReplayWindow }),
		durationVar("REMOTE_RUN_BUFFER_FLUSH_MS", 5000, 1, 600_000, time.Millisecond,
			func(c *Config) *time.Duration { return &c.RemoteRunBufferFlush }),
		durationVar("WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS", 300, 1, 86400, time.Second,
			func(c *Config) *time.Duration { return &c.WebhookTimestampTolerance }).
			then(lessThan("REMOTE_RUN_REPLAY_WINDOW_SECONDS", func(c *Config) (a, b time.Duration) {
				return c.WebhookTimestampTolerance, c.RemoteRunReplayWindow
			})),
	}
}

func packageVars() []variable {
	return []variable{
		enumVar("AFPS_SIGNATURE_POLICY", "off", []string{"off", "warn", "required"},
			func(c *Config) *string { return &c.AFPSSignaturePolicy }),
		jsonVar("AFPS_TRUST_ROOT", func(c *Config) *[]TrustedKey { return &c.AFPSTrustRoot },
			func() []TrustedKey { return []TrustedKey{} }, "a JSON array of {keyId, publicKey, comment?}",
			validateTrustRoot),
		checkedVar("LEGAL_TERMS_URL", "", func(c *Config) *string { return &c.LegalTermsURL }, parseBaseURL),
		checkedVar("LEGAL_PRIVACY_URL", "", func(c *Config) *string { return &c.LegalPrivacyURL }, parseBaseURL),
	}
}

// appEnvVar reads APP_ENV, falling back to NODE_ENV (errors then name NODE_ENV).
func appEnvVar() variable {
	parse := oneOf(EnvDevelopment, EnvProduction, EnvTest)
	return variable{
		name: "APP_ENV",
		load: func(c *Config, v value) error {
			if v.raw == "" {
				v = v.env.get("NODE_ENV")
			}
			c.Env = EnvDevelopment
			if v.raw != "" {
				e, err := parse(v.raw)
				if err != nil {
					return v.bad(err.Error())
				}
				c.Env = e
			}
			c.Production = c.Env == EnvProduction
			return nil
		},
		show: func(c *Config) string { return c.Env },
	}
}

// dataDirVar reads DATA_DIR; the default follows the XDG base directory spec.
func dataDirVar() variable {
	return variable{
		name: "DATA_DIR",
		load: func(c *Config, v value) error {
			raw := v.raw
			if raw == "" {
				raw = defaultDataDir(v.env)
			}
			dir, err := parseDir(raw)
			if err != nil {
				return v.bad(err.Error())
			}
			c.DataDir = dir
			return nil
		},
		show: func(c *Config) string { return c.DataDir },
	}
}

func defaultDataDir(e env) string {
	if x := e.get("XDG_DATA_HOME").raw; filepath.IsAbs(x) {
		return filepath.Join(x, "appstrate")
	}
	if h := e.get("HOME").raw; h != "" {
		return filepath.Join(h, ".local", "share", "appstrate")
	}
	return "data"
}

// modulesVar reads MODULES; unlike other variables, an explicitly empty value means "no modules".
func modulesVar() variable {
	return variable{
		name: "MODULES",
		load: func(c *Config, v value) error {
			if !v.set {
				c.Modules = DefaultModules()
				return nil
			}
			mods, err := splitList(v.raw, parseModule)
			if err != nil {
				return v.bad(err.Error())
			}
			c.Modules = mods
			return nil
		},
		show: func(c *Config) string { return joinList(c.Modules) },
	}
}

func defaultOrigins(c *Config) []string {
	return slices.Compact([]string{originOf(c.AppURL), "http://localhost:5173"})
}

func defaultLogFormat(c *Config) string {
	if c.Production {
		return "json"
	}
	return "text"
}

func parseTrustProxy(raw string) (int, error) {
	switch strings.ToLower(raw) {
	case "false":
		return 0, nil
	case "true":
		return 1, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > 64 {
		return 0, errors.New(`"false", "true" or a number of proxy hops between 0 and 64`)
	}
	return n, nil
}

func parsePositiveInt64(raw string) (int64, error) {
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		return 0, errors.New("a positive integer (bytes)")
	}
	return n, nil
}

func parseRunAdapter(raw string) (string, error) {
	s, err := oneOf("process", "bwrap", "docker")(raw)
	if err != nil {
		return "", errors.New("one of process, bwrap, docker (or empty to choose automatically)")
	}
	return s, nil
}

func checkProductionHTTPS(c *Config, v value) error {
	u, _ := parseURL(c.AppURL, "http", "https")
	if c.Production && u != nil && u.Scheme == "http" && !isLocalHost(u.Hostname()) {
		return v.bad("an https:// URL in production (http:// is allowed only for localhost and 127.0.0.1)")
	}
	return nil
}

func requireRegion(c *Config, v value) error {
	if c.S3.Bucket != "" && c.S3.Region == "" {
		return v.bad("an S3 region such as us-east-1 (required when S3_BUCKET is set)")
	}
	return nil
}

func checkRetiredKeys(c *Config, v value) error {
	if _, ok := c.ConnectionEncryptionKeys[c.ConnectionEncryptionKeyID]; ok {
		return v.bad(fmt.Sprintf("retired keys only, without the active kid %q of CONNECTION_ENCRYPTION_KEY_ID",
			c.ConnectionEncryptionKeyID))
	}
	return nil
}

// compare builds a rule between this duration and one loaded earlier (named other).
func compare(other, relation string, ok func(a, b time.Duration) bool,
	get func(*Config) (a, b time.Duration)) func(*Config, value) error {
	return func(c *Config, v value) error {
		a, b := get(c)
		if !ok(a, b) {
			return &Error{Var: v.name, Value: strconv.Itoa(int(a / time.Second)),
				Expected: fmt.Sprintf("a value %s %s (%d)", relation, other, int(b/time.Second))}
		}
		return nil
	}
}

func lessThan(other string, get func(*Config) (a, b time.Duration)) func(*Config, value) error {
	return compare(other, "less than", func(a, b time.Duration) bool { return a < b }, get)
}

func greaterThan(other string, get func(*Config) (a, b time.Duration)) func(*Config, value) error {
	return compare(other, "greater than", func(a, b time.Duration) bool { return a > b }, get)
}

func notAbove(other string, get func(*Config) (a, b time.Duration)) func(*Config, value) error {
	return compare(other, "at most", func(a, b time.Duration) bool { return a <= b }, get)
}
