package config

import (
	"errors"
	"strings"
	"testing"
)

// secretEnv sets every secret-bearing variable to a value containing a distinctive secret string.
func secretEnv() (env map[string]string, secrets []string) {
	secrets = []string{
		"auth-secret-0123456789abcdef0123456789",
		"rotated-secret-0123456789abcdef012345",
		key(32),
		"cmV0aXJlZC1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM=", // base64 of "retired-key-0123456789abcdef0123"
		"run-token-secret-0123456789abcdef01234",
		"upload-secret-0123",
		"bootstrapTokenSecret_0123",
		"google-client-secret-value",
		"github-client-secret-value",
		"smtp-password-value",
		"s3-secret-access-key-value",
		"sk-provider-api-key-value",
		"oidc-client-secret-value",
		"proxyListPassword",
		"dbPassword",
		"redisPassword",
		"egressPassword",
	}
	env = map[string]string{
		"BETTER_AUTH_SECRET":         secrets[0],
		"BETTER_AUTH_SECRETS":        `{"k2":"` + secrets[1] + `"}`,
		"CONNECTION_ENCRYPTION_KEY":  secrets[2],
		"CONNECTION_ENCRYPTION_KEYS": `{"k0":"` + secrets[3] + `"}`,
		"RUN_TOKEN_SECRET":           secrets[4],
		"UPLOAD_SIGNING_SECRET":      secrets[5],
		"AUTH_BOOTSTRAP_TOKEN":       secrets[6],
		"GOOGLE_CLIENT_ID":           "google-id",
		"GOOGLE_CLIENT_SECRET":       secrets[7],
		"GITHUB_CLIENT_ID":           "github-id",
		"GITHUB_CLIENT_SECRET":       secrets[8],
		"SMTP_PASS":                  secrets[9],
		"S3_ACCESS_KEY_ID":           "AKIAEXAMPLE",
		"S3_SECRET_ACCESS_KEY":       secrets[10],
		"SYSTEM_PROVIDER_KEYS":       `[{"id":"s","providerId":"openai","apiKey":"` + secrets[11] + `","models":[]}]`,
		"OIDC_INSTANCE_CLIENTS": `[{"clientId":"c","clientSecret":"` + secrets[12] +
			`","name":"C","redirectUris":["https://c.example/cb"]}]`,
		"SYSTEM_PROXIES": `[{"id":"p","label":"P","url":"http://u:` + secrets[13] + `@proxy:3128"}]`,
		"DATABASE_URL":   "postgres://app:" + secrets[14] + "@db:5432/appstrate?sslmode=disable",
		"REDIS_URL":      "redis://:" + secrets[15] + "@cache:6379/0",
		"PROXY_URL":      "http://user:" + secrets[16] + "@egress:8080",
	}
	return env, secrets
}

func TestRedactedHidesEverySecret(t *testing.T) {
	env, secrets := secretEnv()
	settings := mustLoad(t, env).Redacted()
	for _, s := range settings {
		for _, secret := range secrets {
			if strings.Contains(s.Value, secret) {
				t.Errorf("%s=%q reveals a secret", s.Name, s.Value)
			}
		}
	}
	shown := map[string]Setting{}
	for _, s := range settings {
		shown[s.Name] = s
	}
	want := map[string]string{
		"DATABASE_URL":         "postgres://app:xxxxx@db:5432/appstrate?sslmode=disable",
		"REDIS_URL":            "redis://:xxxxx@cache:6379/0",
		"PROXY_URL":            "http://user:xxxxx@egress:8080",
		"BETTER_AUTH_SECRET":   "[redacted]",
		"SYSTEM_PROVIDER_KEYS": "[redacted]",
		"SMTP_PASS":            "[redacted]",
		"RUN_TOKEN_SECRET":     "[redacted]",
		"S3_ACCESS_KEY_ID":     "AKIAEXAMPLE",
		"GOOGLE_CLIENT_ID":     "google-id",
		"PORT":                 "3000",
	}
	for name, value := range want {
		if got := shown[name].Value; got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
	if !shown["SMTP_PASS"].Secret || shown["PORT"].Secret {
		t.Errorf("Secret flags wrong: SMTP_PASS %v, PORT %v", shown["SMTP_PASS"].Secret, shown["PORT"].Secret)
	}
}

func TestRedactedUnsetSecretsAreEmpty(t *testing.T) {
	for _, s := range mustLoad(t, nil).Redacted() {
		if s.Secret && s.Value != "" {
			t.Errorf("%s = %q, want empty when unset", s.Name, s.Value)
		}
	}
}

func TestErrorsDoNotRevealSecrets(t *testing.T) {
	tests := []struct {
		env    map[string]string
		secret string
	}{
		{map[string]string{"BETTER_AUTH_SECRET": "tooShortSecret"}, "tooShortSecret"},
		{map[string]string{"CONNECTION_ENCRYPTION_KEY": "c2hvcnRLZXk="}, "c2hvcnRLZXk="},
		{map[string]string{"SYSTEM_PROVIDER_KEYS": `[{"id":"a","providerId":"p","apiKey":"sk-live-1","bogus":1}]`},
			"sk-live-1"},
		{map[string]string{"DATABASE_URL": "mysql://root:hunter2@db/app"}, "hunter2"},
		{map[string]string{"DATABASE_URL": "postgres://root:hun/ter2@db/app"}, "ter2"},
		{map[string]string{"REDIS_URL": "http://:s3cr3t@cache:6379"}, "s3cr3t"},
		{map[string]string{"AUTH_BOOTSTRAP_TOKEN": "short+token"}, "short+token"},
	}
	for _, tc := range tests {
		_, err := Load(envOf(tc.env))
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Load(%v) = %v, want *Error", tc.env, err)
		}
		if strings.Contains(err.Error(), tc.secret) {
			t.Errorf("error %q reveals %q", err, tc.secret)
		}
	}
}

func TestMaskURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"postgres://db/app", "postgres://db/app"},
		{"postgres://u@db/app", "postgres://u@db/app"},
		{"postgres://u:p@db/app", "postgres://u:xxxxx@db/app"},
		{"postgres://db/app?user=u&password=p", "postgres://db/app?password=xxxxx&user=u"},
		{"postgres://u:p/q@db/app", "postgres://xxxxx@db/app"},
		{"postgres://%zz", "postgres://%zz"},
	}
	for _, tc := range tests {
		if got := maskURL(tc.in); got != tc.want {
			t.Errorf("maskURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
