package profile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSystemKeyringRoundTrip runs against the machine's Secret Service when there is one (for example under
// `dbus-run-session` with an unlocked gnome-keyring-daemon); elsewhere it skips.
func TestSystemKeyringRoundTrip(t *testing.T) {
	k := SystemKeyring{}
	account := "appstrate-test-" + time.Now().Format("150405.000000")
	if _, err := k.Get(KeyringService, account); !errors.Is(err, ErrKeyringNotFound) {
		t.Skipf("no usable Secret Service here: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "appstrate")
	_ = os.MkdirAll(dir, 0o700)
	s := &Store{Dir: dir, Keyring: k, Now: time.Now}
	tk := Tokens{AccessToken: "a", ExpiresAt: time.Now().Add(time.Minute).UnixMilli(), RefreshToken: "r", RefreshExpiresAt: time.Now().Add(time.Hour).UnixMilli()}
	if err := s.Save(account, tk); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(KeyringService, account) })
	secret, err := k.Get(KeyringService, account)
	if err != nil || secret != tk.compactJSON() {
		t.Fatalf("%q %v", secret, err)
	}
	if _, err := os.Stat(CredentialsPath(dir)); !os.IsNotExist(err) {
		t.Fatal("the file was written although the keyring serves")
	}
	got, err := s.Load(account)
	if err != nil || got == nil || *got != tk {
		t.Fatalf("%+v %v", got, err)
	}
	if err := s.Delete(account); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(KeyringService, account); !errors.Is(err, ErrKeyringNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
