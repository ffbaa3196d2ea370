package profile

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// KeyringService is the service name of every keyring entry; the account is the profile name.
const KeyringService = "appstrate"

// Keyring is an OS secret store.
type Keyring interface {
	Get(service, account string) (string, error)
	Set(service, account, secret string) error
	Delete(service, account string) error
}

// Keyring errors, by what the store does with them.
var (
	// ErrKeyringNotFound: no entry for this account (normal on reads).
	ErrKeyringNotFound = errors.New("no matching entry in the OS keyring")
	// ErrNoKeyring: there is no keyring backend on this machine (no D-Bus session, no Secret Service):
	// the store falls back to the credentials file with a one-line warning.
	ErrNoKeyring = errors.New("no OS keyring available")
)

// keyringClass sorts keyring errors.
type keyringClass int

const (
	keyringOK keyringClass = iota
	keyringMissingEntry
	keyringNoBackend
	keyringBroken
)

func classifyKeyring(err error) keyringClass {
	switch {
	case err == nil:
		return keyringOK
	case errors.Is(err, ErrKeyringNotFound):
		return keyringMissingEntry
	case errors.Is(err, ErrNoKeyring):
		return keyringNoBackend
	}
	return keyringBroken
}

// SystemKeyring is the OS keyring through go-keyring (macOS Keychain, Secret Service over D-Bus,
// Windows Credential Manager), with its errors mapped to ErrKeyringNotFound and ErrNoKeyring.
type SystemKeyring struct {
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
}

func (k SystemKeyring) getenv(name string) string {
	if k.Getenv != nil {
		return k.Getenv(name)
	}
	return os.Getenv(name)
}

// available says whether a backend can exist, without starting anything: on Linux and the BSDs go-keyring
// talks to the Secret Service on the D-Bus session bus, and godbus would otherwise autolaunch a bus daemon.
func (k SystemKeyring) available() bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
		if k.getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
			return true
		}
		if dir := k.getenv("XDG_RUNTIME_DIR"); dir != "" {
			if _, err := os.Stat(filepath.Join(dir, "bus")); err == nil {
				return true
			}
		}
		return false
	}
	return false
}

func (k SystemKeyring) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, keyring.ErrNotFound) {
		return ErrKeyringNotFound
	}
	if errors.Is(err, keyring.ErrUnsupportedPlatform) {
		return fmt.Errorf("%w: %v", ErrNoKeyring, err)
	}
	var dbusErr dbus.Error
	if errors.As(err, &dbusErr) && (dbusErr.Name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
		dbusErr.Name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
		return fmt.Errorf("%w: %v", ErrNoKeyring, err) // a session bus without a Secret Service
	}
	var opErr *net.OpError
	var execErr *exec.Error
	if errors.As(err, &opErr) || errors.As(err, &execErr) || strings.Contains(err.Error(), "dbus:") {
		return fmt.Errorf("%w: %v", ErrNoKeyring, err) // the session bus cannot be reached
	}
	return err
}

// Get reads the secret of account.
func (k SystemKeyring) Get(service, account string) (string, error) {
	if !k.available() {
		return "", fmt.Errorf("%w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)", ErrNoKeyring)
	}
	s, err := keyring.Get(service, account)
	return s, k.mapErr(err)
}

// Set writes the secret of account.
func (k SystemKeyring) Set(service, account, secret string) error {
	if !k.available() {
		return fmt.Errorf("%w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)", ErrNoKeyring)
	}
	return k.mapErr(keyring.Set(service, account, secret))
}

// Delete removes the secret of account.
func (k SystemKeyring) Delete(service, account string) error {
	if !k.available() {
		return fmt.Errorf("%w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)", ErrNoKeyring)
	}
	return k.mapErr(keyring.Delete(service, account))
}

// MemoryKeyring is an in-memory keyring for tests.
type MemoryKeyring struct {
	mu      sync.Mutex
	Entries map[string]string // "service/account" → secret
	Err     error             // returned by every call when set
}

// Get implements Keyring.
func (m *MemoryKeyring) Get(service, account string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Err != nil {
		return "", m.Err
	}
	s, ok := m.Entries[service+"/"+account]
	if !ok {
		return "", ErrKeyringNotFound
	}
	return s, nil
}

// Set implements Keyring.
func (m *MemoryKeyring) Set(service, account, secret string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Err != nil {
		return m.Err
	}
	if m.Entries == nil {
		m.Entries = map[string]string{}
	}
	m.Entries[service+"/"+account] = secret
	return nil
}

// Delete implements Keyring.
func (m *MemoryKeyring) Delete(service, account string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Err != nil {
		return m.Err
	}
	if _, ok := m.Entries[service+"/"+account]; !ok {
		return ErrKeyringNotFound
	}
	delete(m.Entries, service+"/"+account)
	return nil
}
