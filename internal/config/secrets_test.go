package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// ensure loads env and runs EnsureSecrets, returning the config and the log output.
func ensure(t *testing.T, env map[string]string) (*Config, string) {
	t.Helper()
	c := mustLoad(t, env)
	var logs bytes.Buffer
	if err := c.EnsureSecrets(slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatalf("EnsureSecrets: %v", err)
	}
	return c, logs.String()
}

type secretValues struct {
	auth, run, upload string
	key               []byte
}

func secretsOf(c *Config) secretValues {
	return secretValues{c.BetterAuthSecret, c.RunTokenSecret, c.UploadSigningSecret, c.ConnectionEncryptionKey}
}

func TestEnsureSecretsGeneratesThenReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	env := map[string]string{"DATA_DIR": dir}

	first, logs := ensure(t, env)
	s := secretsOf(first)
	if len(s.auth) < 32 || len(s.run) < 32 || len(s.upload) < 16 || len(s.key) != 32 {
		t.Fatalf("generated secrets are incomplete: %+v", s)
	}
	path := filepath.Join(dir, SecretsFile)
	if strings.Count(logs, "\n") != 1 || !strings.Contains(logs, "generated=BETTER_AUTH_SECRET,") ||
		!strings.Contains(logs, path) {
		t.Errorf("log = %q, want one line naming the generated secrets and %s", logs, path)
	}
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700)
	before, _ := os.ReadFile(path)

	second, logs := ensure(t, env)
	if !reflect.DeepEqual(secretsOf(second), s) {
		t.Errorf("second start got different secrets")
	}
	if !strings.Contains(logs, "generated=\"\"") || !strings.Contains(logs, "loaded=BETTER_AUTH_SECRET,") {
		t.Errorf("log = %q, want secrets loaded, none generated", logs)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("secrets file rewritten on reuse")
	}
	for _, st := range second.Redacted() {
		if st.Value != "" && (strings.Contains(st.Value, s.auth) || strings.Contains(st.Value, s.upload)) {
			t.Errorf("Redacted shows generated secret in %s", st.Name)
		}
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s mode = %o, want %o", path, got, want)
	}
}

func TestEnsureSecretsEnvWins(t *testing.T) {
	dir := t.TempDir()
	generated, _ := ensure(t, map[string]string{"DATA_DIR": dir})

	mine := strings.Repeat("e", 40)
	c, logs := ensure(t, map[string]string{"DATA_DIR": dir, "BETTER_AUTH_SECRET": mine})
	if c.BetterAuthSecret != mine {
		t.Errorf("BetterAuthSecret = %q, want the environment value", c.BetterAuthSecret)
	}
	if c.RunTokenSecret != generated.RunTokenSecret {
		t.Errorf("RunTokenSecret not reused from the file")
	}
	if strings.Contains(logs, "loaded=BETTER_AUTH_SECRET") {
		t.Errorf("log = %q: BETTER_AUTH_SECRET came from the environment", logs)
	}
	stored := readStored(t, dir)
	if stored["BETTER_AUTH_SECRET"] != generated.BetterAuthSecret {
		t.Errorf("file changed for BETTER_AUTH_SECRET")
	}
}

func readStored(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, SecretsFile))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEnsureSecretsNothingMissingTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	env, _ := secretEnv()
	env["DATA_DIR"] = dir
	_, logs := ensure(t, env)
	if logs != "" {
		t.Errorf("log = %q, want nothing", logs)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("data dir has %d entries, want none", len(entries))
	}
}

func TestEnsureSecretsProduction(t *testing.T) {
	all := map[string]string{
		"APP_ENV":                   "production",
		"BETTER_AUTH_SECRET":        strings.Repeat("a", 32),
		"CONNECTION_ENCRYPTION_KEY": key(32),
		"RUN_TOKEN_SECRET":          strings.Repeat("r", 32),
		"UPLOAD_SIGNING_SECRET":     strings.Repeat("u", 16),
	}
	tests := []struct {
		name    string
		unset   string
		extra   map[string]string
		wantVar string
	}{
		{"all set", "", nil, ""},
		{"missing auth secret", "BETTER_AUTH_SECRET", nil, "BETTER_AUTH_SECRET"},
		{"rotated auth secret is enough", "BETTER_AUTH_SECRET",
			map[string]string{"BETTER_AUTH_SECRETS": `{"k1":"` + strings.Repeat("b", 32) + `"}`}, ""},
		{"missing encryption key", "CONNECTION_ENCRYPTION_KEY", nil, "CONNECTION_ENCRYPTION_KEY"},
		{"missing run token secret", "RUN_TOKEN_SECRET", nil, "RUN_TOKEN_SECRET"},
		{"missing upload secret", "UPLOAD_SIGNING_SECRET", nil, "UPLOAD_SIGNING_SECRET"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{"DATA_DIR": dir}
			for k, v := range all {
				env[k] = v
			}
			for k, v := range tc.extra {
				env[k] = v
			}
			delete(env, tc.unset)
			err := mustLoad(t, env).EnsureSecrets(slog.New(slog.DiscardHandler))
			var e *Error
			switch {
			case tc.wantVar == "" && err != nil:
				t.Errorf("EnsureSecrets: %v", err)
			case tc.wantVar != "" && (!errors.As(err, &e) || e.Var != tc.wantVar):
				t.Errorf("EnsureSecrets = %v, want *Error for %s", err, tc.wantVar)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("production wrote %d entries to the data dir", len(entries))
			}
		})
	}
}

func TestEnsureSecretsRejectsBadFile(t *testing.T) {
	dir := t.TempDir()
	bad := `{"CONNECTION_ENCRYPTION_KEY": "dG9vLXNob3J0"}`
	if err := os.WriteFile(filepath.Join(dir, SecretsFile), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := mustLoad(t, map[string]string{"DATA_DIR": dir}).EnsureSecrets(nil)
	var e *Error
	if !errors.As(err, &e) || e.Var != "CONNECTION_ENCRYPTION_KEY" {
		t.Fatalf("EnsureSecrets = %v, want *Error for CONNECTION_ENCRYPTION_KEY", err)
	}
	if strings.Contains(err.Error(), "dG9vLXNob3J0") || !strings.Contains(err.Error(), SecretsFile) {
		t.Errorf("error %q should name the file and hide the value", err)
	}

	if err := os.WriteFile(filepath.Join(dir, SecretsFile), []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := mustLoad(t, map[string]string{"DATA_DIR": dir}).EnsureSecrets(nil); err == nil {
		t.Errorf("EnsureSecrets accepted a corrupt secrets file")
	}
}

// TestEnsureSecretsConcurrentFirstStart: processes starting together on a fresh data dir agree on one set.
func TestEnsureSecretsConcurrentFirstStart(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir()}
	const n = 8
	results := make(chan secretValues, n)
	for range n {
		go func() {
			c := mustLoad(t, env)
			if err := c.EnsureSecrets(slog.New(slog.DiscardHandler)); err != nil {
				t.Error(err)
			}
			results <- secretsOf(c)
		}()
	}
	first := <-results
	for range n - 1 {
		if got := <-results; !reflect.DeepEqual(got, first) {
			t.Fatal("concurrent first starts generated different secrets")
		}
	}
}
