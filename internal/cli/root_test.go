package cli

import (
	"bytes"
	"strings"
	"testing"
)

func withEnv(t *testing.T, env map[string]string) {
	t.Helper()
	old := lookupEnv
	lookupEnv = func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	t.Cleanup(func() { lookupEnv = old })
}

func TestBadConfigurationIsOneLineAndExitCode2(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"port not a number", map[string]string{"PORT": "abc"}, "PORT"},
		{"not a postgres url", map[string]string{"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"},
		{"short encryption key", map[string]string{"CONNECTION_ENCRYPTION_KEY": "c2hvcnQ="}, "CONNECTION_ENCRYPTION_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			withEnv(t, env)
			var stdout, stderr bytes.Buffer
			code := Main([]string{"serve"}, &stdout, &stderr)
			if code != ExitConfig {
				t.Fatalf("exit code = %d, want %d", code, ExitConfig)
			}
			out := stderr.String()
			if strings.Count(out, "\n") != 1 || !strings.Contains(out, tt.wantVar) || strings.Contains(out, "goroutine") {
				t.Fatalf("stderr should be one line naming %s, got %q", tt.wantVar, out)
			}
		})
	}
}

func TestProductionRequiresSecrets(t *testing.T) {
	withEnv(t, map[string]string{"DATA_DIR": t.TempDir(), "APP_URL": "https://appstrate.example.com"})
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"serve", "--production"}, &stdout, &stderr); code != ExitConfig {
		t.Fatalf("exit code = %d (stderr %q)", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "BETTER_AUTH_SECRET") {
		t.Fatalf("stderr = %q", stderr.String())
	}
}

func TestPrintConfigRedactsSecrets(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef-secret"
	withEnv(t, map[string]string{"DATA_DIR": t.TempDir(), "BETTER_AUTH_SECRET": secret, "DATABASE_URL": "postgres://u:hunter2@db:5432/app"})
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"serve", "--print-config"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	if strings.Contains(out, secret) || strings.Contains(out, "hunter2") || !strings.Contains(out, "PORT") {
		t.Fatalf("print-config output leaks a secret or misses settings:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "appstrate ") {
		t.Fatalf("version: %d %q", code, stdout.String())
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"nope"}, &stdout, &stderr); code == 0 {
		t.Fatal("unknown command must fail")
	}
}
