package config

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envOf turns a map into a lookup function for Load.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func mustLoad(t *testing.T, m map[string]string) *Config {
	t.Helper()
	c, err := Load(envOf(m))
	if err != nil {
		t.Fatalf("Load(%v): %v", m, err)
	}
	return c
}

func key(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

func TestLoadDefaults(t *testing.T) {
	c := mustLoad(t, nil)
	wantDir, _ := filepath.Abs("data")
	checks := []struct {
		name      string
		got, want any
	}{
		{"Env", c.Env, "development"},
		{"Production", c.Production, false},
		{"Port", c.Port, 3000},
		{"AppURL", c.AppURL, "http://localhost:3000"},
		{"TrustedOrigins", c.TrustedOrigins, []string{"http://localhost:3000", "http://localhost:5173"}},
		{"TrustProxyHops", c.TrustProxyHops, 0},
		{"BodyLimitBytes", c.BodyLimitBytes, int64(10485760)},
		{"ShutdownTimeout", c.ShutdownTimeout, 30 * time.Second},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"LogFormat", c.LogFormat, "text"},
		{"DataDir", c.DataDir, wantDir},
		{"SQLitePath", c.SQLitePath(), filepath.Join(wantDir, "appstrate.db")},
		{"FSStoragePath", c.FSStoragePath, filepath.Join(wantDir, "storage")},
		{"DatabaseURL", c.DatabaseURL, ""},
		{"Tier", c.Tier(), 0},
		{"BetterAuthActiveKID", c.BetterAuthActiveKID, "k1"},
		{"BetterAuthSecrets", c.BetterAuthSecrets, map[string]string{}},
		{"ConnectionEncryptionKeyID", c.ConnectionEncryptionKeyID, "k1"},
		{"ConnectionEncryptionKey", c.ConnectionEncryptionKey, []byte(nil)},
		{"Modules", c.Modules, DefaultModules()},
		{"AuthBootstrapOrgName", c.AuthBootstrapOrgName, "Default"},
		{"SMTPPort", c.SMTPPort, 587},
		{"SMTPEnabled", c.SMTPEnabled(), false},
		{"PlatformRunLimits", c.PlatformRunLimits, PlatformRunLimits{1800, 200, 50}},
		{"InlineRunLimits", c.InlineRunLimits, InlineRunLimits{RatePerMin: 60, MaxManifestBytes: 65536,
			MaxPromptBytes: 200000, MaxSkills: 20, MaxTools: 20, MaxAuthorizedURIs: 50, RetentionDays: 30}},
		{"LLMProxyLimits", c.LLMProxyLimits, LLMProxyLimits{RatePerMin: 60}},
		{"LLMProxyCacheMode", c.LLMProxyCacheMode, "off"},
		{"LLMProxyCacheMaxAge", c.LLMProxyCacheMaxAge, time.Hour},
		{"CredentialProxyLimits", c.CredentialProxyLimits, CredentialProxyLimits{100, 3600}},
		{"RemoteRunEventLimits", c.RemoteRunEventLimits, RemoteRunEventLimits{50, 200}},
		{"RemoteRunSinkDefaultTTL", c.RemoteRunSinkDefaultTTL, 2 * time.Hour},
		{"RemoteRunSinkMaxTTL", c.RemoteRunSinkMaxTTL, 24 * time.Hour},
		{"RemoteRunReplayWindow", c.RemoteRunReplayWindow, 10 * time.Minute},
		{"RemoteRunBufferFlush", c.RemoteRunBufferFlush, 5 * time.Second},
		{"WebhookTimestampTolerance", c.WebhookTimestampTolerance, 5 * time.Minute},
		{"RunHeartbeatInterval", c.RunHeartbeatInterval, 15 * time.Second},
		{"RunStallThreshold", c.RunStallThreshold, time.Minute},
		{"RunWatchdogInterval", c.RunWatchdogInterval, 15 * time.Second},
		{"RunAdapter", c.RunAdapter, ""},
		{"DockerSocket", c.DockerSocket, "/var/run/docker.sock"},
		{"PiImage", c.PiImage, "appstrate-pi:latest"},
		{"SidecarImage", c.SidecarImage, "appstrate-sidecar:latest"},
		{"AFPSSignaturePolicy", c.AFPSSignaturePolicy, "off"},
		{"AFPSTrustRoot", c.AFPSTrustRoot, []TrustedKey{}},
		{"SystemProviderKeys", c.SystemProviderKeys, []SystemProviderKey{}},
		{"OAuthRefreshWorkerEnabled", c.OAuthRefreshWorkerEnabled, false},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
}

func TestLoadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		got  func(c *Config) any
		want any
	}{
		{"NODE_ENV is the fallback for APP_ENV", map[string]string{"NODE_ENV": "test"},
			func(c *Config) any { return c.Env }, "test"},
		{"APP_ENV wins over NODE_ENV", map[string]string{"APP_ENV": "production", "NODE_ENV": "test"},
			func(c *Config) any { return c.Production }, true},
		{"production logs JSON by default", map[string]string{"APP_ENV": "production"},
			func(c *Config) any { return c.LogFormat }, "json"},
		{"LOG_FORMAT wins in production", map[string]string{"APP_ENV": "production", "LOG_FORMAT": "text"},
			func(c *Config) any { return c.LogFormat }, "text"},
		{"LOG_LEVEL is case-insensitive", map[string]string{"LOG_LEVEL": "DEBUG"},
			func(c *Config) any { return c.LogLevel }, slog.LevelDebug},
		{"APP_URL default follows PORT", map[string]string{"PORT": "8080"},
			func(c *Config) any { return c.AppURL }, "http://localhost:8080"},
		{"APP_URL trailing slash is dropped", map[string]string{"APP_URL": "https://Example.COM/base/"},
			func(c *Config) any { return c.AppURL }, "https://example.com/base"},
		{"production allows http on localhost", map[string]string{"APP_ENV": "production",
			"APP_URL": "http://127.0.0.1:3000"}, func(c *Config) any { return c.AppURL }, "http://127.0.0.1:3000"},
		{"TRUSTED_ORIGINS default uses the APP_URL origin", map[string]string{"APP_URL": "https://a.example/x"},
			func(c *Config) any { return c.TrustedOrigins }, []string{"https://a.example", "http://localhost:5173"}},
		{"TRUSTED_ORIGINS is trimmed and deduplicated", map[string]string{
			"TRUSTED_ORIGINS": " https://a.example/ , ,https://a.example,http://b.example:8080"},
			func(c *Config) any { return c.TrustedOrigins }, []string{"https://a.example", "http://b.example:8080"}},
		{"TRUST_PROXY=true is one hop", map[string]string{"TRUST_PROXY": "true"},
			func(c *Config) any { return c.TrustProxyHops }, 1},
		{"TRUST_PROXY=false is no hop", map[string]string{"TRUST_PROXY": "false"},
			func(c *Config) any { return c.TrustProxyHops }, 0},
		{"TRUST_PROXY=N is N hops", map[string]string{"TRUST_PROXY": "3"},
			func(c *Config) any { return c.TrustProxyHops }, 3},
		{"DATA_DIR from XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": "/xdg", "HOME": "/home/u"},
			func(c *Config) any { return c.DataDir }, "/xdg/appstrate"},
		{"DATA_DIR from HOME", map[string]string{"HOME": "/home/u"},
			func(c *Config) any { return c.DataDir }, "/home/u/.local/share/appstrate"},
		{"DATA_DIR wins", map[string]string{"DATA_DIR": "/srv/appstrate/", "HOME": "/home/u"},
			func(c *Config) any { return c.FSStoragePath }, "/srv/appstrate/storage"},
		{"empty values count as unset", map[string]string{"PORT": "", "LOG_LEVEL": "  "},
			func(c *Config) any { return c.Port }, 3000},
		{"empty MODULES means no modules", map[string]string{"MODULES": ""},
			func(c *Config) any { return c.Modules }, []string(nil)},
		{"MODULES is a trimmed list", map[string]string{"MODULES": " oidc , webhooks "},
			func(c *Config) any { return c.Modules }, []string{"oidc", "webhooks"}},
		{"admin emails are trimmed and lower-cased", map[string]string{
			"AUTH_PLATFORM_ADMIN_EMAILS": " Admin@Example.com, ops@example.com "},
			func(c *Config) any { return c.AuthPlatformAdminEmails }, []string{"admin@example.com", "ops@example.com"}},
		{"signup domains are lower-cased", map[string]string{"AUTH_ALLOWED_SIGNUP_DOMAINS": "Example.COM,acme.io"},
			func(c *Config) any { return c.AuthAllowedSignupDomains }, []string{"example.com", "acme.io"}},
		{"booleans accept 1", map[string]string{"AUTH_DISABLE_SIGNUP": "1"},
			func(c *Config) any { return c.AuthDisableSignup }, true},
		{"booleans accept TRUE", map[string]string{"OAUTH_REFRESH_WORKER_ENABLED": "TRUE"},
			func(c *Config) any { return c.OAuthRefreshWorkerEnabled }, true},
		{"RUN_ADAPTER bwrap", map[string]string{"RUN_ADAPTER": "bwrap"},
			func(c *Config) any { return c.RunAdapter }, "bwrap"},
		{"encryption key is decoded", map[string]string{"CONNECTION_ENCRYPTION_KEY": key(32)},
			func(c *Config) any { return c.ConnectionEncryptionKey }, make([]byte, 32)},
		{"retired keys are decoded", map[string]string{"CONNECTION_ENCRYPTION_KEYS": `{"k0":"` + key(32) + `"}`},
			func(c *Config) any { return c.ConnectionEncryptionKeys }, map[string][]byte{"k0": make([]byte, 32)}},
		{"AuthSecret prefers the active kid", map[string]string{"BETTER_AUTH_SECRET": strings.Repeat("a", 32),
			"BETTER_AUTH_SECRETS": `{"k2":"` + strings.Repeat("b", 32) + `"}`, "BETTER_AUTH_ACTIVE_KID": "k2"},
			func(c *Config) any { return c.AuthSecret() }, strings.Repeat("b", 32)},
		{"SMTP enabled when complete", map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_USER": "u",
			"SMTP_PASS": "p", "SMTP_FROM": "Appstrate <noreply@example.com>"},
			func(c *Config) any { return c.SMTPEnabled() }, true},
		{"SMTP disabled without a sender", map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_USER": "u",
			"SMTP_PASS": "p"}, func(c *Config) any { return c.SMTPEnabled() }, false},
		{"buffer flush is in milliseconds", map[string]string{"REMOTE_RUN_BUFFER_FLUSH_MS": "250"},
			func(c *Config) any { return c.RemoteRunBufferFlush }, 250 * time.Millisecond},
		{"postgres unix socket URL", map[string]string{"DATABASE_URL": "postgres:///app?host=/run/postgresql"},
			func(c *Config) any { return c.Tier() }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, tc.env)
			if got := tc.got(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"PORT not a number", map[string]string{"PORT": "abc"}, "PORT"},
		{"PORT out of range", map[string]string{"PORT": "70000"}, "PORT"},
		{"PORT zero", map[string]string{"PORT": "0"}, "PORT"},
		{"first bad variable in table order wins", map[string]string{"LOG_LEVEL": "loud", "PORT": "abc"}, "PORT"},
		{"APP_ENV unknown", map[string]string{"APP_ENV": "staging"}, "APP_ENV"},
		{"NODE_ENV unknown", map[string]string{"NODE_ENV": "staging"}, "NODE_ENV"},
		{"APP_URL not http", map[string]string{"APP_URL": "ftp://example.com"}, "APP_URL"},
		{"APP_URL relative", map[string]string{"APP_URL": "example.com"}, "APP_URL"},
		{"APP_URL with query", map[string]string{"APP_URL": "https://example.com/?a=1"}, "APP_URL"},
		{"production APP_URL over http", map[string]string{"APP_ENV": "production", "APP_URL": "http://example.com"},
			"APP_URL"},
		{"TRUSTED_ORIGINS with a path", map[string]string{"TRUSTED_ORIGINS": "https://a.example/app"}, "TRUSTED_ORIGINS"},
		{"TRUSTED_ORIGINS without scheme", map[string]string{"TRUSTED_ORIGINS": "a.example"}, "TRUSTED_ORIGINS"},
		{"TRUST_PROXY not a bool or number", map[string]string{"TRUST_PROXY": "maybe"}, "TRUST_PROXY"},
		{"TRUST_PROXY negative", map[string]string{"TRUST_PROXY": "-1"}, "TRUST_PROXY"},
		{"body limit zero", map[string]string{"API_BODY_LIMIT_BYTES": "0"}, "API_BODY_LIMIT_BYTES"},
		{"shutdown timeout not a number", map[string]string{"SHUTDOWN_TIMEOUT_SECONDS": "30s"}, "SHUTDOWN_TIMEOUT_SECONDS"},
		{"LOG_LEVEL unknown", map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL"},
		{"LOG_FORMAT unknown", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"DATABASE_URL wrong scheme", map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		{"DATABASE_URL unparsable", map[string]string{"DATABASE_URL": "postgres://%zz"}, "DATABASE_URL"},
		{"DATABASE_URL without host", map[string]string{"DATABASE_URL": "postgres:///db"}, "DATABASE_URL"},
		{"REDIS_URL wrong scheme", map[string]string{"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"},
		{"S3 bucket without region", map[string]string{"S3_BUCKET": "b"}, "S3_REGION"},
		{"S3_ENDPOINT not a URL", map[string]string{"S3_ENDPOINT": "minio:9000"}, "S3_ENDPOINT"},
		{"S3 secret without key id", map[string]string{"S3_SECRET_ACCESS_KEY": "x"}, "S3_ACCESS_KEY_ID"},
		{"S3 key id without secret", map[string]string{"S3_ACCESS_KEY_ID": "x"}, "S3_SECRET_ACCESS_KEY"},
		{"auth secret too short", map[string]string{"BETTER_AUTH_SECRET": "short"}, "BETTER_AUTH_SECRET"},
		{"auth secrets not JSON", map[string]string{"BETTER_AUTH_SECRETS": "k1=x"}, "BETTER_AUTH_SECRETS"},
		{"auth secrets entry too short", map[string]string{"BETTER_AUTH_SECRETS": `{"k1":"x"}`}, "BETTER_AUTH_SECRETS"},
		{"active kid malformed", map[string]string{"BETTER_AUTH_ACTIVE_KID": "k 1"}, "BETTER_AUTH_ACTIVE_KID"},
		{"encryption key of 31 bytes", map[string]string{"CONNECTION_ENCRYPTION_KEY": key(31)}, "CONNECTION_ENCRYPTION_KEY"},
		{"encryption key not base64", map[string]string{"CONNECTION_ENCRYPTION_KEY": "not*base64!"}, "CONNECTION_ENCRYPTION_KEY"},
		{"encryption key base64url", map[string]string{"CONNECTION_ENCRYPTION_KEY": strings.Repeat("_", 43) + "="},
			"CONNECTION_ENCRYPTION_KEY"},
		{"retired key of 16 bytes", map[string]string{"CONNECTION_ENCRYPTION_KEYS": `{"k0":"` + key(16) + `"}`},
			"CONNECTION_ENCRYPTION_KEYS"},
		{"retired keys contain the active kid", map[string]string{"CONNECTION_ENCRYPTION_KEYS": `{"k1":"` + key(32) + `"}`},
			"CONNECTION_ENCRYPTION_KEYS"},
		{"run token secret too short", map[string]string{"RUN_TOKEN_SECRET": strings.Repeat("s", 31)}, "RUN_TOKEN_SECRET"},
		{"upload secret too short", map[string]string{"UPLOAD_SIGNING_SECRET": strings.Repeat("s", 15)},
			"UPLOAD_SIGNING_SECRET"},
		{"cookie domain with scheme", map[string]string{"COOKIE_DOMAIN": "https://example.com"}, "COOKIE_DOMAIN"},
		{"boolean yes", map[string]string{"AUTH_DISABLE_SIGNUP": "yes"}, "AUTH_DISABLE_SIGNUP"},
		{"signup domain with @", map[string]string{"AUTH_ALLOWED_SIGNUP_DOMAINS": "@example.com"},
			"AUTH_ALLOWED_SIGNUP_DOMAINS"},
		{"admin email invalid", map[string]string{"AUTH_PLATFORM_ADMIN_EMAILS": "a@b.c,nope"}, "AUTH_PLATFORM_ADMIN_EMAILS"},
		{"owner email with name", map[string]string{"AUTH_BOOTSTRAP_OWNER_EMAIL": "Bob <bob@example.com>"},
			"AUTH_BOOTSTRAP_OWNER_EMAIL"},
		{"bootstrap token too short", map[string]string{"AUTH_BOOTSTRAP_TOKEN": strings.Repeat("a", 21)},
			"AUTH_BOOTSTRAP_TOKEN"},
		{"bootstrap token not base64url", map[string]string{"AUTH_BOOTSTRAP_TOKEN": strings.Repeat("a", 22) + "+/"},
			"AUTH_BOOTSTRAP_TOKEN"},
		{"google secret without id", map[string]string{"GOOGLE_CLIENT_SECRET": "x"}, "GOOGLE_CLIENT_ID"},
		{"github id without secret", map[string]string{"GITHUB_CLIENT_ID": "x"}, "GITHUB_CLIENT_SECRET"},
		{"SMTP_PORT out of range", map[string]string{"SMTP_PORT": "0"}, "SMTP_PORT"},
		{"SMTP_FROM not an address", map[string]string{"SMTP_FROM": "noreply"}, "SMTP_FROM"},
		{"module id with space", map[string]string{"MODULES": "oidc,web hooks"}, "MODULES"},
		{"OIDC client without redirect URIs", map[string]string{"OIDC_INSTANCE_CLIENTS": `[{"clientId":"c","name":"n"}]`},
			"OIDC_INSTANCE_CLIENTS"},
		{"provider key without apiKey", map[string]string{"SYSTEM_PROVIDER_KEYS": `[{"id":"a","providerId":"openai"}]`},
			"SYSTEM_PROVIDER_KEYS"},
		{"provider model with unknown key", map[string]string{"SYSTEM_PROVIDER_KEYS": `[{"id":"a","providerId":"openai",` +
			`"apiKey":"k","models":[{"modelId":"m","colour":"red"}]}]`}, "SYSTEM_PROVIDER_KEYS"},
		{"provider keys duplicate id", map[string]string{"SYSTEM_PROVIDER_KEYS": `[{"id":"a","providerId":"p","apiKey":"k"},` +
			`{"id":"a","providerId":"p","apiKey":"k"}]`}, "SYSTEM_PROVIDER_KEYS"},
		{"proxy with bad url", map[string]string{"SYSTEM_PROXIES": `[{"id":"p","label":"P","url":"ftp://x"}]`},
			"SYSTEM_PROXIES"},
		{"PROXY_URL wrong scheme", map[string]string{"PROXY_URL": "ftp://proxy:21"}, "PROXY_URL"},
		{"run limits bad JSON", map[string]string{"PLATFORM_RUN_LIMITS": `{"timeout_ceiling_seconds":`}, "PLATFORM_RUN_LIMITS"},
		{"run limits unknown key", map[string]string{"PLATFORM_RUN_LIMITS": `{"timeout_seconds":10}`}, "PLATFORM_RUN_LIMITS"},
		{"run limits wrong type", map[string]string{"PLATFORM_RUN_LIMITS": `{"max_concurrent_per_org":"5"}`},
			"PLATFORM_RUN_LIMITS"},
		{"run limits zero", map[string]string{"PLATFORM_RUN_LIMITS": `{"max_concurrent_per_org":0}`}, "PLATFORM_RUN_LIMITS"},
		{"run limits trailing data", map[string]string{"PLATFORM_RUN_LIMITS": `{} {}`}, "PLATFORM_RUN_LIMITS"},
		{"run limits is an array", map[string]string{"PLATFORM_RUN_LIMITS": `[]`}, "PLATFORM_RUN_LIMITS"},
		{"inline limits negative skills", map[string]string{"INLINE_RUN_LIMITS": `{"max_skills":-1}`}, "INLINE_RUN_LIMITS"},
		{"LLM proxy limits unknown key", map[string]string{"LLM_PROXY_LIMITS": `{"rate":1}`}, "LLM_PROXY_LIMITS"},
		{"cache mode unknown", map[string]string{"LLM_PROXY_CACHE_MODE": "semantic"}, "LLM_PROXY_CACHE_MODE"},
		{"credential proxy TTL zero", map[string]string{"CREDENTIAL_PROXY_LIMITS": `{"session_ttl_seconds":0}`},
			"CREDENTIAL_PROXY_LIMITS"},
		{"RUN_ADAPTER unknown", map[string]string{"RUN_ADAPTER": "kubernetes"}, "RUN_ADAPTER"},
		{"PLATFORM_API_URL not a URL", map[string]string{"PLATFORM_API_URL": "host.docker.internal:3000"},
			"PLATFORM_API_URL"},
		{"heartbeat zero", map[string]string{"RUN_HEARTBEAT_INTERVAL_SECONDS": "0"}, "RUN_HEARTBEAT_INTERVAL_SECONDS"},
		{"stall threshold not above heartbeat", map[string]string{"RUN_HEARTBEAT_INTERVAL_SECONDS": "60"},
			"RUN_STALL_THRESHOLD_SECONDS"},
		{"watchdog float", map[string]string{"RUN_WATCHDOG_INTERVAL_SECONDS": "1.5"}, "RUN_WATCHDOG_INTERVAL_SECONDS"},
		{"sink default above max", map[string]string{"REMOTE_RUN_SINK_DEFAULT_TTL_SECONDS": "90000"},
			"REMOTE_RUN_SINK_DEFAULT_TTL_SECONDS"},
		{"event limits burst zero", map[string]string{"REMOTE_RUN_EVENT_LIMITS": `{"burst":0}`}, "REMOTE_RUN_EVENT_LIMITS"},
		{"buffer flush negative", map[string]string{"REMOTE_RUN_BUFFER_FLUSH_MS": "-1"}, "REMOTE_RUN_BUFFER_FLUSH_MS"},
		{"tolerance equal to replay window", map[string]string{"WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS": "600"},
			"WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS"},
		{"tolerance above a shorter replay window", map[string]string{"REMOTE_RUN_REPLAY_WINDOW_SECONDS": "120"},
			"WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS"},
		{"signature policy unknown", map[string]string{"AFPS_SIGNATURE_POLICY": "strict"}, "AFPS_SIGNATURE_POLICY"},
		{"trust root key of 16 bytes", map[string]string{"AFPS_TRUST_ROOT": `[{"keyId":"a","publicKey":"` + key(16) + `"}]`},
			"AFPS_TRUST_ROOT"},
		{"legal URL relative", map[string]string{"LEGAL_TERMS_URL": "/terms"}, "LEGAL_TERMS_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(envOf(tc.env))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load = %v, %v; want *Error", c, err)
			}
			if e.Var != tc.wantVar {
				t.Errorf("Var = %q, want %q (%v)", e.Var, tc.wantVar, err)
			}
			msg := err.Error()
			t.Log(msg)
			if e.Expected == "" || !strings.Contains(msg, e.Var) || !strings.Contains(msg, "expected ") ||
				strings.ContainsAny(msg, "\n\r") {
				t.Errorf("message %q is not one line naming the variable and the expected form", msg)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Load(envOf(map[string]string{"PORT": "abc"}))
	if got, want := err.Error(), `PORT="abc" is invalid: expected an integer between 1 and 65535`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Load(envOf(map[string]string{"S3_BUCKET": "b"}))
	if got, want := err.Error(), `S3_REGION is not set: expected an S3 region such as us-east-1 (required when S3_BUCKET is set)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestJSONPartialOverrideKeepsDefaults(t *testing.T) {
	c := mustLoad(t, map[string]string{
		"PLATFORM_RUN_LIMITS":     `{"max_concurrent_per_org": 5}`,
		"INLINE_RUN_LIMITS":       `{"wildcard_uri_allowed": true, "max_tools": 0}`,
		"CREDENTIAL_PROXY_LIMITS": `{"rate_per_min": 7}`,
		"REMOTE_RUN_EVENT_LIMITS": `null`,
	})
	if want := (PlatformRunLimits{1800, 200, 5}); c.PlatformRunLimits != want {
		t.Errorf("PlatformRunLimits = %+v, want %+v", c.PlatformRunLimits, want)
	}
	want := DefaultInlineRunLimits()
	want.WildcardURIAllowed, want.MaxTools = true, 0
	if c.InlineRunLimits != want {
		t.Errorf("InlineRunLimits = %+v, want %+v", c.InlineRunLimits, want)
	}
	if want := (CredentialProxyLimits{7, 3600}); c.CredentialProxyLimits != want {
		t.Errorf("CredentialProxyLimits = %+v, want %+v", c.CredentialProxyLimits, want)
	}
	if c.RemoteRunEventLimits != DefaultRemoteRunEventLimits() {
		t.Errorf("RemoteRunEventLimits = %+v, want defaults", c.RemoteRunEventLimits)
	}
}

func TestJSONEntries(t *testing.T) {
	pub := key(32)
	c := mustLoad(t, map[string]string{
		"SYSTEM_PROVIDER_KEYS": `[{"id":"sys","providerId":"openai","apiKey":"sk-1","baseUrl":"https://llm.example/v1",
			"models":[{"modelId":"gpt-x","isDefault":true,"cost":{"input":1.5,"output":6}},{"modelId":"m2","enabled":false}]}]`,
		"SYSTEM_PROXIES":  `[{"id":"p1","label":"Egress","url":"http://proxy:3128"}]`,
		"AFPS_TRUST_ROOT": `[{"keyId":"root","publicKey":"` + pub + `","comment":"ci"}]`,
	})
	k := c.SystemProviderKeys[0]
	if k.BaseURLOverride != "https://llm.example/v1" || !k.Models[0].Enabled || k.Models[1].Enabled ||
		!k.Models[0].IsDefault || k.Models[0].Cost.Output != 6 {
		t.Errorf("SystemProviderKeys = %+v", c.SystemProviderKeys)
	}
	if p := c.SystemProxies[0]; !p.Enabled || p.URL != "http://proxy:3128" {
		t.Errorf("SystemProxies = %+v", c.SystemProxies)
	}
	if tk := c.AFPSTrustRoot[0]; tk.KeyID != "root" || len(tk.PublicKey) != 32 || tk.Comment != "ci" {
		t.Errorf("AFPSTrustRoot = %+v", c.AFPSTrustRoot)
	}
}

func TestTier(t *testing.T) {
	pg := "postgres://u:p@db:5432/app"
	tests := []struct {
		env  map[string]string
		want int
	}{
		{nil, 0},
		{map[string]string{"REDIS_URL": "redis://r:6379"}, 0},
		{map[string]string{"DATABASE_URL": pg}, 1},
		{map[string]string{"DATABASE_URL": pg, "S3_BUCKET": "b", "S3_REGION": "us-east-1"}, 1},
		{map[string]string{"DATABASE_URL": pg, "REDIS_URL": "rediss://r:6380/1"}, 2},
		{map[string]string{"DATABASE_URL": pg, "REDIS_URL": "redis://r", "S3_BUCKET": "b", "S3_REGION": "eu-west-3"}, 3},
	}
	for _, tc := range tests {
		if got := mustLoad(t, tc.env).Tier(); got != tc.want {
			t.Errorf("Tier(%v) = %d, want %d", tc.env, got, tc.want)
		}
	}
}

// TestEveryDocumentedVariable guards the table against losing a variable of API.md §8.3.
func TestEveryDocumentedVariable(t *testing.T) {
	documented := strings.Fields(`APP_ENV PORT APP_URL TRUSTED_ORIGINS TRUST_PROXY API_BODY_LIMIT_BYTES DATABASE_URL
		REDIS_URL FS_STORAGE_PATH S3_BUCKET S3_REGION S3_ENDPOINT S3_PUBLIC_ENDPOINT LOG_LEVEL BETTER_AUTH_ACTIVE_KID
		BETTER_AUTH_SECRETS BETTER_AUTH_SECRET CONNECTION_ENCRYPTION_KEY_ID CONNECTION_ENCRYPTION_KEYS
		CONNECTION_ENCRYPTION_KEY COOKIE_DOMAIN RUN_TOKEN_SECRET UPLOAD_SIGNING_SECRET MODULES OIDC_INSTANCE_CLIENTS
		SYSTEM_PROVIDER_KEYS SYSTEM_PROXIES PLATFORM_RUN_LIMITS INLINE_RUN_LIMITS LLM_PROXY_LIMITS
		CREDENTIAL_PROXY_LIMITS LLM_PROXY_CACHE_MODE LLM_PROXY_CACHE_MAX_AGE REMOTE_RUN_SINK_DEFAULT_TTL_SECONDS
		REMOTE_RUN_SINK_MAX_TTL_SECONDS REMOTE_RUN_EVENT_LIMITS REMOTE_RUN_REPLAY_WINDOW_SECONDS REMOTE_RUN_BUFFER_FLUSH_MS
		WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS RUN_HEARTBEAT_INTERVAL_SECONDS RUN_STALL_THRESHOLD_SECONDS
		RUN_WATCHDOG_INTERVAL_SECONDS OAUTH_REFRESH_WORKER_ENABLED RUN_ADAPTER DOCKER_SOCKET PI_IMAGE SIDECAR_IMAGE
		PLATFORM_API_URL PROXY_URL GOOGLE_CLIENT_ID GOOGLE_CLIENT_SECRET GITHUB_CLIENT_ID GITHUB_CLIENT_SECRET
		SMTP_HOST SMTP_USER SMTP_PASS SMTP_FROM SMTP_PORT AUTH_DISABLE_SIGNUP AUTH_DISABLE_ORG_CREATION
		AUTH_ALLOWED_SIGNUP_DOMAINS AUTH_PLATFORM_ADMIN_EMAILS AUTH_BOOTSTRAP_OWNER_EMAIL AUTH_BOOTSTRAP_TOKEN
		AUTH_BOOTSTRAP_ORG_NAME AFPS_TRUST_ROOT AFPS_SIGNATURE_POLICY LEGAL_TERMS_URL LEGAL_PRIVACY_URL
		DATA_DIR LOG_FORMAT SHUTDOWN_TIMEOUT_SECONDS S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY`)
	seen := map[string]bool{}
	for _, s := range mustLoad(t, nil).Redacted() {
		if seen[s.Name] {
			t.Errorf("%s listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	for _, name := range documented {
		if !seen[name] {
			t.Errorf("%s is not read", name)
		}
	}
	if len(seen) != len(documented) {
		t.Errorf("table has %d variables, documented list %d", len(seen), len(documented))
	}
}
