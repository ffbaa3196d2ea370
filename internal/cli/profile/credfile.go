package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Tokens is the stored pair, in the shape both stores share: camelCase keys, times in epoch milliseconds.
// ExpiresAt is the client clock at storage time plus expires_in (not the JWT's exp).
type Tokens struct {
	AccessToken      string `json:"accessToken"`
	ExpiresAt        int64  `json:"expiresAt"`
	RefreshToken     string `json:"refreshToken"`
	RefreshExpiresAt int64  `json:"refreshExpiresAt"`
}

// valid reports whether every field is present (entries with wrong types are ignored, as upstream).
func (t Tokens) valid() bool { return t.AccessToken != "" && t.RefreshToken != "" }

// parseTokens decodes the compact JSON of a keyring secret or a file entry; it is strict about field types.
func parseTokens(raw []byte) (Tokens, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Tokens{}, false
	}
	var t Tokens
	for key, dst := range map[string]any{"accessToken": &t.AccessToken, "refreshToken": &t.RefreshToken,
		"expiresAt": &t.ExpiresAt, "refreshExpiresAt": &t.RefreshExpiresAt} {
		v, ok := m[key]
		if !ok {
			return Tokens{}, false
		}
		if err := json.Unmarshal(v, dst); err != nil {
			// Epoch milliseconds written by JavaScript may carry a fraction.
			var f float64
			if p, isInt := dst.(*int64); isInt && json.Unmarshal(v, &f) == nil {
				*p = int64(f)
				continue
			}
			return Tokens{}, false
		}
	}
	return t, t.valid()
}

// compactJSON is the keyring secret: {"accessToken":…,"expiresAt":…,"refreshToken":…,"refreshExpiresAt":…}.
func (t Tokens) compactJSON() string {
	b, _ := json.Marshal(t)
	return string(b)
}

// credFile is <configDir>/credentials.json: a JSON object keyed by profile name, pretty-printed with two
// spaces, mode 0600, in a 0700 directory owned by the current user.
type credFile struct {
	dir string
	mu  sync.Mutex // in-process; LockFile serialises processes
}

// CredentialsPath is <dir>/credentials.json.
func CredentialsPath(dir string) string { return filepath.Join(dir, "credentials.json") }

// credEntry keeps the file's profile order.
type credEntry struct {
	name   string
	tokens Tokens
}

func (f *credFile) path() string { return CredentialsPath(f.dir) }

// checkDir refuses a directory that is not exactly 0700 and owned by the user.
func (f *credFile) checkDir() error {
	fi, err := os.Stat(f.dir)
	if err != nil {
		return fmt.Errorf("credentials directory: %w", err)
	}
	if err := checkOwnedMode(f.dir, fi, 0o700); err != nil {
		return fmt.Errorf("refusing to use the credentials file: %w", err)
	}
	return nil
}

// read returns the entries; a missing file is empty.
func (f *credFile) read() ([]credEntry, error) {
	path := f.path()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := f.checkDir(); err != nil {
		return nil, err
	}
	if err := checkOwnedMode(path, fi, 0o600); err != nil {
		return nil, fmt.Errorf("refusing to read %s: %w", path, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeCredentials(raw)
}

// decodeCredentials reads the object in file order, skipping entries that are not valid token objects.
func decodeCredentials(raw []byte) ([]credEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("credentials file is not a JSON object")
	}
	var out []credEntry
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("credentials file: %w", err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("credentials file: %w", err)
		}
		if t, ok := parseTokens(v); ok {
			name := k.(string)
			replaced := false
			for i := range out {
				if out[i].name == name {
					out[i].tokens, replaced = t, true
				}
			}
			if !replaced {
				out = append(out, credEntry{name: name, tokens: t})
			}
		}
	}
	return out, nil
}

// encodeCredentials renders the entries as JSON.stringify(obj, null, 2) does.
func encodeCredentials(entries []credEntry) []byte {
	var b bytes.Buffer
	b.WriteString("{")
	for i, e := range entries {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  ")
		b.Write(jsonString(e.name))
		b.WriteString(": {\n    \"accessToken\": ")
		b.Write(jsonString(e.tokens.AccessToken))
		fmt.Fprintf(&b, ",\n    \"expiresAt\": %d,\n    \"refreshToken\": ", e.tokens.ExpiresAt)
		b.Write(jsonString(e.tokens.RefreshToken))
		fmt.Fprintf(&b, ",\n    \"refreshExpiresAt\": %d\n  }", e.tokens.RefreshExpiresAt)
	}
	if len(entries) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("}")
	return b.Bytes()
}

func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// write replaces the file with entries; no entries removes it.
func (f *credFile) write(entries []credEntry) error {
	if err := f.checkDir(); err != nil {
		return err
	}
	if len(entries) == 0 {
		if err := os.Remove(f.path()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	tmp := fmt.Sprintf("credentials.json.%d.%d.tmp", os.Getpid(), time.Now().UnixNano())
	return writeAtomic(f.path(), filepath.Join(f.dir, tmp), encodeCredentials(entries))
}

func (f *credFile) get(profile string) (Tokens, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	entries, err := f.read()
	if err != nil {
		return Tokens{}, false, err
	}
	for _, e := range entries {
		if e.name == profile {
			return e.tokens, true, nil
		}
	}
	return Tokens{}, false, nil
}

func (f *credFile) set(profile string, t Tokens) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	entries, err := f.read()
	if err != nil {
		return err
	}
	found := false
	for i := range entries {
		if entries[i].name == profile {
			entries[i].tokens, found = t, true
		}
	}
	if !found {
		entries = append(entries, credEntry{name: profile, tokens: t})
	}
	return f.write(entries)
}

// remove deletes the profile's entry; when expiresAt is non-zero only an entry with that expiresAt goes
// (compare-and-swap for the scrub of expired entries).
func (f *credFile) remove(profile string, expiresAt int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := os.Stat(f.path()); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	entries, err := f.read()
	if err != nil {
		return err
	}
	kept := entries[:0]
	changed := false
	for _, e := range entries {
		if e.name == profile && (expiresAt == 0 || e.tokens.ExpiresAt == expiresAt) {
			changed = true
			continue
		}
		kept = append(kept, e)
	}
	if !changed {
		return nil
	}
	return f.write(kept)
}
