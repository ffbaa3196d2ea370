package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// SecretsFile is the name, under DataDir, of the file holding secrets generated outside production.
const SecretsFile = "secrets.json"

// requiredSecret is a secret the server cannot run without.
type requiredSecret struct {
	name     string
	missing  func(c *Config) bool
	expected string
	generate func() string
}

// requiredSecrets lists, in order, the secrets EnsureSecrets fills or demands. RUN_TOKEN_SECRET is
// required too: upstream accepts it unset (unkeyed, forgeable run tokens); we do not.
func requiredSecrets() []requiredSecret {
	return []requiredSecret{
		{"BETTER_AUTH_SECRET", func(c *Config) bool { return c.AuthSecret() == "" },
			"a secret of at least 32 characters, e.g. `openssl rand -hex 32`", randomHex},
		{"CONNECTION_ENCRYPTION_KEY", func(c *Config) bool { return len(c.ConnectionEncryptionKey) == 0 },
			encryptionKeyForm, randomBase64},
		{"RUN_TOKEN_SECRET", func(c *Config) bool { return c.RunTokenSecret == "" },
			"a secret of at least 32 characters, e.g. `openssl rand -hex 32`", randomHex},
		{"UPLOAD_SIGNING_SECRET", func(c *Config) bool { return c.UploadSigningSecret == "" },
			"a secret of at least 16 characters, e.g. `openssl rand -hex 32`", randomHex},
	}
}

// EnsureSecrets fills the required secrets missing from the environment.
//
// Outside production they are read from <DataDir>/secrets.json, or generated and stored there on
// first start (file 0600, directory 0700); one Info line says which were generated or loaded and
// where. In production a missing secret is an *Error naming the variable and no file is touched.
// Values from the environment always win over the file.
func (c *Config) EnsureSecrets(logger *slog.Logger) error {
	var missing []requiredSecret
	for _, s := range requiredSecrets() {
		if s.missing(c) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if c.Production {
		s := missing[0]
		return &Error{Var: s.name, Expected: s.expected + " (required in production)"}
	}
	return c.fillFromFile(missing, logger)
}

func (c *Config) fillFromFile(missing []requiredSecret, logger *slog.Logger) error {
	path := filepath.Join(c.DataDir, SecretsFile)
	// Two processes starting together on a fresh data dir must agree on one set of secrets.
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	stored, err := readSecrets(path)
	if err != nil {
		return err
	}
	var generated, loaded []string
	for _, s := range missing {
		raw, ok := stored[s.name]
		if ok {
			loaded = append(loaded, s.name)
		} else {
			raw = s.generate()
			stored[s.name] = raw
			generated = append(generated, s.name)
		}
		if err := c.apply(s.name, raw); err != nil {
			return fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if len(generated) > 0 {
		if err := writeSecrets(path, stored); err != nil {
			return err
		}
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger.Info("secrets missing from the environment taken from the secrets file", "generated", strings.Join(generated, ","),
		"loaded", strings.Join(loaded, ","), "path", path)
	return nil
}

// apply loads one secret value through its variable's parser.
func (c *Config) apply(name, raw string) error {
	v, _ := variableNamed(name)
	return redactError(v.load(c, value{name: name, raw: strings.TrimSpace(raw), set: true}))
}

func readSecrets(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: read secrets: %w", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config: %s is not a JSON object of strings: %w", path, err)
	}
	return m, nil
}

// writeSecrets replaces the file atomically (temp file + rename), mode 0600.
func writeSecrets(path string, m map[string]string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("config: create data dir: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("config: encode secrets: %w", err)
	}
	f, err := os.CreateTemp(dir, SecretsFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("config: write secrets: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after a successful rename
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Chmod(0o600)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("config: write secrets: %w", err)
	}
	return nil
}

func randomBytes() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics on broken platforms)
	return b
}

func randomHex() string { return hex.EncodeToString(randomBytes()) }

func randomBase64() string { return base64.StdEncoding.EncodeToString(randomBytes()) }
