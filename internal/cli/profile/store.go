package profile

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// Store keeps the token pairs of the profiles: in the OS keyring when there is one, else in credentials.json.
//
// Keyring errors are sorted as CLI.md A3 says, with one deliberate change for headless machines: when there
// is no keyring backend at all (no D-Bus session or no Secret Service), the file is used, and writing tokens
// to it prints a one-line warning on stderr (once per process; upstream is silent). When a keyring exists but
// fails (locked, access denied...), the store refuses unless AllowPlaintext (APPSTRATE_ALLOW_PLAINTEXT_TOKENS=1,
// then warned once per process), so a misconfigured keyring never silently degrades to plaintext. Windows
// never uses the file.
type Store struct {
	Dir            string    // the config directory holding credentials.json
	Keyring        Keyring   // nil: no keyring
	AllowPlaintext bool      // APPSTRATE_ALLOW_PLAINTEXT_TOKENS=1
	Warn           io.Writer // where the one-line fallback warning goes (nil: nowhere)
	Now            func() time.Time
	GOOS           string // runtime.GOOS when empty

	file     credFile
	initOnce sync.Once
	warnOnce sync.Once
}

// KeyringBrokenError is a keyring that exists but does not serve, without the plaintext opt-in.
type KeyringBrokenError struct {
	Op  string
	Err error
}

func (e *KeyringBrokenError) Error() string {
	return fmt.Sprintf("the OS keyring is installed but not serving (%s: %v). Unlock or repair it, or set "+
		"APPSTRATE_ALLOW_PLAINTEXT_TOKENS=1 to store tokens in credentials.json (0600) instead", e.Op, e.Err)
}
func (e *KeyringBrokenError) Unwrap() error { return e.Err }

func (s *Store) init() {
	s.initOnce.Do(func() { s.file.dir = s.Dir })
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) goos() string {
	if s.GOOS != "" {
		return s.GOOS
	}
	return runtime.GOOS
}

func (s *Store) keyringOp(op string, fn func(Keyring) error) error {
	if s.Keyring == nil {
		return ErrNoKeyring
	}
	return fn(s.Keyring)
}

// fallback decides whether a keyring error lets the file be used; it prints the warning once.
func (s *Store) fallback(op string, err error) error {
	if s.goos() == "windows" {
		return fmt.Errorf("OS keyring %s failed (Windows Credential Manager is required): %w", op, err)
	}
	switch classifyKeyring(err) {
	case keyringNoBackend:
	case keyringMissingEntry:
		if op == "read" || op == "delete" {
			return nil
		}
		fallthrough
	default:
		if !s.AllowPlaintext {
			return &KeyringBrokenError{Op: op, Err: err}
		}
	}
	if op != "write" && classifyKeyring(err) == keyringNoBackend {
		return nil // reading or deleting the file needs no warning: it was announced when tokens were written to it
	}
	s.warnOnce.Do(func() {
		if s.Warn != nil {
			fmt.Fprintf(s.Warn, "[appstrate] OS keyring %s failed (%s) — falling back to %s (0600).\n",
				op, oneLine(err), CredentialsPath(s.Dir))
		}
	})
	return nil
}

func oneLine(err error) string {
	msg := err.Error()
	for i, c := range msg {
		if c == '\n' {
			return msg[:i]
		}
	}
	return msg
}

// Load returns the tokens of profile, or nil when it is not logged in. A pair whose refresh token has
// expired is deleted and reported as not logged in; an expired access token with a live refresh token is
// returned (the client refreshes it).
func (s *Store) Load(profile string) (*Tokens, error) {
	s.init()
	var secret string
	err := s.keyringOp("read", func(k Keyring) error {
		var err error
		secret, err = k.Get(KeyringService, profile)
		return err
	})
	var t Tokens
	found := false
	if err == nil {
		t, found = parseTokens([]byte(secret))
	}
	if !found {
		if err != nil && classifyKeyring(err) != keyringMissingEntry {
			if ferr := s.fallback("read", err); ferr != nil {
				return nil, ferr
			}
		}
		if s.goos() == "windows" {
			return nil, nil
		}
		var ferr error
		t, found, ferr = s.file.get(profile)
		if ferr != nil {
			return nil, ferr
		}
		if !found {
			return nil, nil
		}
	}
	if t.RefreshExpiresAt <= s.now().UnixMilli() {
		_ = s.deleteIf(profile, t.ExpiresAt)
		return nil, nil
	}
	return &t, nil
}

// Save stores the tokens of profile.
func (s *Store) Save(profile string, t Tokens) error {
	s.init()
	err := s.keyringOp("write", func(k Keyring) error { return k.Set(KeyringService, profile, t.compactJSON()) })
	if err == nil {
		// A stale file entry would hold an old refresh token: drop it now that the keyring has the pair.
		if s.goos() != "windows" {
			_ = s.file.remove(profile, 0)
		}
		return nil
	}
	if ferr := s.fallback("write", err); ferr != nil {
		return ferr
	}
	if err := EnsureDir(s.Dir); err != nil {
		return err
	}
	return s.file.set(profile, t)
}

// Delete removes the tokens of profile from the keyring and the file. A missing entry is not an error.
func (s *Store) Delete(profile string) error {
	return s.deleteIf(profile, 0)
}

func (s *Store) deleteIf(profile string, expiresAt int64) error {
	s.init()
	var errs []error
	err := s.keyringOp("delete", func(k Keyring) error {
		if expiresAt != 0 { // compare-and-swap: only the entry that was read
			cur, err := k.Get(KeyringService, profile)
			if err != nil {
				return err
			}
			if t, ok := parseTokens([]byte(cur)); ok && t.ExpiresAt != expiresAt {
				return nil
			}
		}
		return k.Delete(KeyringService, profile)
	})
	if err != nil {
		if c := classifyKeyring(err); c == keyringBroken && !s.AllowPlaintext {
			errs = append(errs, &KeyringBrokenError{Op: "delete", Err: err})
		}
	}
	if s.goos() != "windows" {
		if err := s.file.remove(profile, expiresAt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Lock takes the cross-process token lock (<dir>/credentials.lock). Hold it around load→refresh→save.
func (s *Store) Lock() (unlock func(), err error) {
	if err := EnsureDir(s.Dir); err != nil {
		return nil, err
	}
	return LockFile(filepath.Join(s.Dir, "credentials.lock"))
}
