package profile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var testNow = time.UnixMilli(1776000000000)

func newStore(t *testing.T, kr Keyring, allow bool) (*Store, *bytes.Buffer) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "appstrate")
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	warn := &bytes.Buffer{}
	return &Store{Dir: dir, Keyring: kr, AllowPlaintext: allow, Warn: warn, Now: func() time.Time { return testNow }, GOOS: "linux"}, warn
}

func pair(suffix string) Tokens {
	return Tokens{AccessToken: "eyJhbGciOiJFUzI1NiJ9.e30." + suffix, ExpiresAt: 1776000900000, RefreshToken: "rt_" + suffix, RefreshExpiresAt: 1778592000000}
}

func TestCredentialsFileMatchesUpstreamFormat(t *testing.T) {
	s, warn := newStore(t, nil, false) // no keyring at all
	p, d := pair("sig"), pair("dev")
	p.RefreshToken = "rt_prod"
	if err := s.Save("prod", p); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("dev", d); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(CredentialsPath(s.Dir))
	if err != nil {
		t.Fatal(err)
	}
	if want := golden(t, "credentials.golden.json"); string(got) != want {
		t.Fatalf("credentials.json =\n%s\nwant\n%s", got, want)
	}
	if fi, _ := os.Stat(CredentialsPath(s.Dir)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if n := strings.Count(warn.String(), "\n"); n != 1 || !strings.Contains(warn.String(), "credentials.json (0600)") {
		t.Fatalf("want one warning line, got %q", warn.String())
	}
	// Reading it back; deleting the last entry removes the file.
	if tk, err := s.Load("prod"); err != nil || tk == nil || tk.RefreshToken != "rt_prod" {
		t.Fatalf("%+v %v", tk, err)
	}
	_ = s.Delete("prod")
	_ = s.Delete("dev")
	if _, err := os.Stat(CredentialsPath(s.Dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file left behind: %v", err)
	}
}

func TestStoreKeyringRules(t *testing.T) {
	broken := errors.New("Couldn't access platform storage: AccessDenied")
	tests := []struct {
		name     string
		keyring  Keyring
		allow    bool
		wantErr  bool
		wantFile bool
		wantWarn bool
	}{
		{"keyring serving: secret in the keyring, no file", &MemoryKeyring{}, false, false, false, false},
		{"no keyring backend: file with one warning", &MemoryKeyring{Err: ErrNoKeyring}, false, false, true, true},
		{"broken keyring: refused", &MemoryKeyring{Err: broken}, false, true, false, false},
		{"broken keyring with the opt-in: file with one warning", &MemoryKeyring{Err: broken}, true, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, warn := newStore(t, tt.keyring, tt.allow)
			err := s.Save("default", pair("a"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("save: %v", err)
			}
			var kb *KeyringBrokenError
			if tt.wantErr && !errors.As(err, &kb) {
				t.Fatalf("want KeyringBrokenError, got %v", err)
			}
			_, ferr := os.Stat(CredentialsPath(s.Dir))
			if (ferr == nil) != tt.wantFile {
				t.Fatalf("file exists = %v", ferr == nil)
			}
			if (warn.Len() > 0) != tt.wantWarn {
				t.Fatalf("warning %q", warn.String())
			}
			if tt.wantErr {
				return
			}
			got, err := s.Load("default")
			if err != nil || got == nil || *got != pair("a") {
				t.Fatalf("load: %+v %v", got, err)
			}
			if mk, ok := tt.keyring.(*MemoryKeyring); ok && mk.Err == nil {
				if secret := mk.Entries["appstrate/default"]; !strings.HasPrefix(secret, `{"accessToken":`) || strings.Contains(secret, "\n") {
					t.Fatalf("keyring secret %q", secret)
				}
			}
			if err := s.Delete("default"); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Load("default"); got != nil {
				t.Fatal("still logged in after delete")
			}
		})
	}
}

func TestStoreScrubsExpiredRefreshTokens(t *testing.T) {
	kr := &MemoryKeyring{}
	s, _ := newStore(t, kr, false)
	expired := pair("x")
	expired.RefreshExpiresAt = testNow.UnixMilli()
	if err := s.Save("p", expired); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load("p"); got != nil || err != nil {
		t.Fatalf("%+v %v", got, err)
	}
	if len(kr.Entries) != 0 {
		t.Fatal("expired entry not deleted")
	}
	// An expired access token with a live refresh token is healthy.
	live := pair("y")
	live.ExpiresAt = testNow.UnixMilli() - 1000
	_ = s.Save("p", live)
	if got, _ := s.Load("p"); got == nil {
		t.Fatal("expired access token dropped")
	}
}

func TestFileFallbackRefusesInsecurePermissions(t *testing.T) {
	s, _ := newStore(t, nil, false)
	if err := s.Save("p", pair("a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(CredentialsPath(s.Dir), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("p"); err == nil || !strings.Contains(err.Error(), "insecure permissions") {
		t.Fatalf("read of a 0644 file: %v", err)
	}
	_ = os.Chmod(CredentialsPath(s.Dir), 0o600)
	_ = os.Chmod(s.Dir, 0o755)
	if err := s.Save("p", pair("b")); err == nil || !strings.Contains(err.Error(), "expected 700") {
		t.Fatalf("write into a 0755 dir: %v", err)
	}
}

func TestCredentialsIgnoreBadEntries(t *testing.T) {
	entries, err := decodeCredentials([]byte(`{"a":{"accessToken":1},"b":` + pair("b").compactJSON() + `,"c":{"accessToken":"x","expiresAt":1.5e12,"refreshToken":"r","refreshExpiresAt":2e12}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].name != "b" || entries[1].tokens.ExpiresAt != 1500000000000 {
		t.Fatalf("%+v", entries)
	}
}

func TestLockSerialisesProcessesSections(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials.lock")
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := LockFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Fatalf("%d holders at once", maxInside)
	}
}

func TestPaths(t *testing.T) {
	env := map[string]string{"HOME": "/home/a"}
	get := func(k string) string { return env[k] }
	if d, _ := ConfigDir(get); d != "/home/a/.config/appstrate" {
		t.Fatal(d)
	}
	if d, _ := CacheDir(get); d != "/home/a/.cache/appstrate" {
		t.Fatal(d)
	}
	env["XDG_CONFIG_HOME"], env["XDG_CACHE_HOME"] = "/x", "/y"
	if d, _ := ConfigDir(get); d != "/x/appstrate" {
		t.Fatal(d)
	}
	if d, _ := CacheDir(get); d != "/y/appstrate" {
		t.Fatal(d)
	}
}

func TestSystemKeyringWithoutSessionBusIsNoBackend(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the D-Bus check is Linux only")
	}
	k := SystemKeyring{Getenv: func(string) string { return "" }}
	_, err := k.Get(KeyringService, "p")
	if classifyKeyring(err) != keyringNoBackend {
		t.Fatalf("%v", err)
	}
}
