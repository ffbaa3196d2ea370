package profile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultName is the profile used when nothing names one.
const DefaultName = "default"

// Profile is one `[profile.<name>]` table of config.toml.
type Profile struct {
	Instance            string // instance base URL
	UserID              string // JWT `sub` at login
	Email               string // JWT `email` at login
	OrgID               string // pinned organization (X-Org-Id), optional
	ApplicationID       string // pinned application (X-Application-Id), optional
	ConnectionProfileID string // sticky connection profile for local runs, optional
}

// profileKeys are the known keys of a profile table, in the order the upstream CLI writes them.
var profileKeys = []string{"instance", "userId", "email", "orgId", "applicationId", "connectionProfileId"}

func (p *Profile) field(key string) *string {
	switch key {
	case "instance":
		return &p.Instance
	case "userId":
		return &p.UserID
	case "email":
		return &p.Email
	case "orgId":
		return &p.OrgID
	case "applicationId":
		return &p.ApplicationID
	case "connectionProfileId":
		return &p.ConnectionProfileID
	}
	return nil
}

// complete reports whether the profile has the keys the upstream CLI requires (others are ignored).
func (p Profile) complete() bool { return p.Instance != "" && p.UserID != "" && p.Email != "" }

// Config is config.toml: the default profile pointer and the profiles. Only the known keys are interpreted;
// the rest of the file is written back as it was read.
type Config struct {
	DefaultProfile string // "default" when the file does not say

	doc        *tomlDoc
	hasDefault bool // the file has a defaultProfile key
}

// ConfigError is a config.toml that cannot be read.
type ConfigError struct {
	Path string
	Err  error
}

func (e *ConfigError) Error() string { return fmt.Sprintf("config file %s: %v", e.Path, e.Err) }
func (e *ConfigError) Unwrap() error { return e.Err }

// ParseConfig reads config.toml content.
func ParseConfig(src []byte) (*Config, error) {
	doc, err := parseTOML(string(src))
	if err != nil {
		return nil, err
	}
	c := &Config{DefaultProfile: DefaultName, doc: doc}
	for _, e := range doc.root {
		if e.key == nil {
			continue
		}
		switch {
		case len(e.key) == 1 && e.key[0] == "defaultProfile":
			if !e.isString {
				return nil, errors.New("defaultProfile must be a string")
			}
			if c.hasDefault {
				return nil, errors.New("defaultProfile is defined twice")
			}
			c.DefaultProfile, c.hasDefault = e.str, true
		case e.key[0] == "profile":
			return nil, fmt.Errorf("%w: write profiles as [profile.<name>] tables, not as the dotted key %q", errUnsupported, strings.Join(e.key, "."))
		}
	}
	seen := map[string]bool{}
	for _, t := range doc.tables {
		if len(t.path) == 0 || t.path[0] != "profile" {
			continue
		}
		if t.array {
			return nil, fmt.Errorf("%w: [[%s]] is not a profile table", errUnsupported, strings.Join(t.path, "."))
		}
		if len(t.path) == 1 {
			for _, e := range t.entries {
				if e.key != nil {
					return nil, fmt.Errorf("%w: write profiles as [profile.<name>] tables, not as keys of [profile]", errUnsupported)
				}
			}
			continue
		}
		if len(t.path) > 2 {
			continue // a sub-table of a profile: kept as is
		}
		name := t.path[1]
		if seen[name] {
			return nil, fmt.Errorf("table [profile.%s] is defined twice", tomlKey(name))
		}
		seen[name] = true
		known := map[string]bool{}
		for _, e := range t.entries {
			if len(e.key) != 1 || (&Profile{}).field(e.key[0]) == nil {
				continue
			}
			if !e.isString {
				return nil, fmt.Errorf("profile.%s.%s must be a string", tomlKey(name), e.key[0])
			}
			if known[e.key[0]] {
				return nil, fmt.Errorf("profile.%s.%s is defined twice", tomlKey(name), e.key[0])
			}
			known[e.key[0]] = true
		}
	}
	return c, nil
}

// profileTable returns the [profile.<name>] table.
func (c *Config) profileTable(name string) *tomlTable {
	for _, t := range c.doc.tables {
		if !t.array && len(t.path) == 2 && t.path[0] == "profile" && t.path[1] == name {
			return t
		}
	}
	return nil
}

func readProfile(t *tomlTable) Profile {
	var p Profile
	for _, e := range t.entries {
		if len(e.key) == 1 && e.isString {
			if f := p.field(e.key[0]); f != nil {
				*f = e.str
			}
		}
	}
	return p
}

// Profile returns a usable profile: one whose table has instance, userId and email.
func (c *Config) Profile(name string) (Profile, bool) {
	t := c.profileTable(name)
	if t == nil {
		return Profile{}, false
	}
	p := readProfile(t)
	return p, p.complete()
}

// Names lists the usable profiles in file order.
func (c *Config) Names() []string {
	var names []string
	for _, t := range c.doc.tables {
		if !t.array && len(t.path) == 2 && t.path[0] == "profile" && readProfile(t).complete() {
			names = append(names, t.path[1])
		}
	}
	return names
}

// Resolve picks the profile name: the flag, then APPSTRATE_PROFILE, then defaultProfile, then "default".
func (c *Config) Resolve(flag, env string) string {
	switch {
	case flag != "":
		return flag
	case env != "":
		return env
	case c != nil && c.DefaultProfile != "":
		return c.DefaultProfile
	}
	return DefaultName
}

// SetProfile writes the profile's known keys (empty values remove the key) and keeps everything else in its
// table. When defaultProfile names a profile that does not exist, it is repointed to this one.
func (c *Config) SetProfile(name string, p Profile) {
	if _, ok := c.Profile(c.DefaultProfile); !ok && c.DefaultProfile != name {
		c.DefaultProfile = name
	}
	t := c.profileTable(name)
	if t == nil {
		t = c.addTable([]string{"profile", name})
	}
	for _, key := range profileKeys {
		v := *p.field(key)
		idx := -1
		for i, e := range t.entries {
			if len(e.key) == 1 && e.key[0] == key {
				idx = i
				break
			}
		}
		switch {
		case idx >= 0 && v == "":
			t.entries = append(t.entries[:idx], t.entries[idx+1:]...)
		case idx >= 0:
			t.entries[idx].setString(v)
		case v != "":
			insertEntry(t, newStringEntry(key, v))
		}
	}
}

// insertEntry adds e after the table's last key (before trailing blank and comment lines).
func insertEntry(t *tomlTable, e *tomlEntry) {
	at := len(t.entries)
	for at > 0 && t.entries[at-1].key == nil {
		at--
	}
	if !endsWithNewline(t.entries[:at], t.raw) {
		if at == 0 {
			t.raw += "\n"
		} else {
			t.entries[at-1].raw += "\n"
			t.entries[at-1].suffix += "\n"
		}
	}
	t.entries = append(t.entries[:at], append([]*tomlEntry{e}, t.entries[at:]...)...)
}

// addTable appends a new table after the last profile table (or at the end), separated by a blank line.
func (c *Config) addTable(path []string) *tomlTable {
	var keys []string
	for _, k := range path {
		keys = append(keys, tomlKey(k))
	}
	t := &tomlTable{raw: "[" + strings.Join(keys, ".") + "]\n", path: path}
	at := len(c.doc.tables)
	for i := len(c.doc.tables) - 1; i >= 0; i-- {
		if p := c.doc.tables[i].path; len(p) > 0 && p[0] == "profile" {
			at = i + 1
			break
		}
	}
	// The chunk before the new table must end with a blank line.
	prev := &c.doc.root
	prevHeader := ""
	if at > 0 {
		prev, prevHeader = &c.doc.tables[at-1].entries, c.doc.tables[at-1].raw
	}
	if len(*prev) > 0 || prevHeader != "" {
		if !endsWithNewline(*prev, prevHeader) {
			if len(*prev) == 0 {
				c.doc.tables[at-1].raw += "\n"
			} else {
				last := (*prev)[len(*prev)-1]
				last.raw += "\n"
				last.suffix += "\n"
			}
		}
		if n := len(*prev); n == 0 || !blank((*prev)[n-1]) {
			*prev = append(*prev, &tomlEntry{raw: "\n"})
		}
	}
	// A table inserted before others ends with a blank line too.
	if at < len(c.doc.tables) {
		t.entries = append(t.entries, &tomlEntry{raw: "\n"})
	}
	c.doc.tables = append(c.doc.tables[:at], append([]*tomlTable{t}, c.doc.tables[at:]...)...)
	return t
}

// DeleteProfile removes the profile's table (and its sub-tables). When it was the default, the default falls
// back to the first remaining profile, or to "default".
func (c *Config) DeleteProfile(name string) {
	kept := c.doc.tables[:0]
	removedLast := false
	for i, t := range c.doc.tables {
		if !t.array && len(t.path) >= 2 && t.path[0] == "profile" && t.path[1] == name {
			removedLast = i == len(c.doc.tables)-1
			continue
		}
		removedLast = false
		kept = append(kept, t)
	}
	c.doc.tables = kept
	if removedLast {
		trimTrailingBlank(c.lastChunk())
	}
	if c.DefaultProfile == name {
		c.DefaultProfile = DefaultName
		if names := c.Names(); len(names) > 0 {
			c.DefaultProfile = names[0]
		}
	}
}

func (c *Config) lastChunk() *[]*tomlEntry {
	if n := len(c.doc.tables); n > 0 {
		return &c.doc.tables[n-1].entries
	}
	return &c.doc.root
}

func trimTrailingBlank(entries *[]*tomlEntry) {
	for len(*entries) > 0 && blank((*entries)[len(*entries)-1]) {
		*entries = (*entries)[:len(*entries)-1]
	}
}

// Bytes renders the file: defaultProfile first (as the upstream CLI writes it), an empty [profile] table when
// there is no profile left, and no bare [profile] header when there are profile tables.
func (c *Config) Bytes() []byte {
	// defaultProfile: rewrite in place, or insert as the first line.
	found := false
	for _, e := range c.doc.root {
		if len(e.key) == 1 && e.key[0] == "defaultProfile" {
			if !e.isString || e.str != c.DefaultProfile {
				e.setString(c.DefaultProfile)
			}
			found = true
		}
	}
	if !found {
		e := newStringEntry("defaultProfile", c.DefaultProfile)
		c.doc.root = append([]*tomlEntry{e}, c.doc.root...)
		if len(c.doc.root) == 1 && len(c.doc.tables) > 0 {
			c.doc.root = append(c.doc.root, &tomlEntry{raw: "\n"})
		}
	}
	hasProfiles, bare := false, -1
	for i, t := range c.doc.tables {
		if len(t.path) >= 2 && t.path[0] == "profile" {
			hasProfiles = true
		}
		if len(t.path) == 1 && t.path[0] == "profile" && !t.array {
			bare = i
		}
	}
	switch {
	case hasProfiles && bare >= 0 && !hasKeysOrComments(c.doc.tables[bare]):
		c.doc.tables = append(c.doc.tables[:bare], c.doc.tables[bare+1:]...)
		if bare == len(c.doc.tables) {
			trimTrailingBlank(c.lastChunk())
		}
	case !hasProfiles && bare < 0:
		c.addTable([]string{"profile"})
	}
	return []byte(c.doc.render())
}

func hasKeysOrComments(t *tomlTable) bool {
	for _, e := range t.entries {
		if !blank(e) {
			return true
		}
	}
	return false
}

// ConfigPath is <dir>/config.toml.
func ConfigPath(dir string) string { return filepath.Join(dir, "config.toml") }

// LoadConfig reads <dir>/config.toml; a missing file is an empty config.
func LoadConfig(dir string) (*Config, error) {
	path := ConfigPath(dir)
	src, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		c, _ := ParseConfig(nil)
		return c, nil
	}
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	c, err := ParseConfig(src)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	return c, nil
}

// SaveConfig writes <dir>/config.toml atomically (temp file config.toml.<pid>.<ms>.tmp with mode 0600, then
// rename). The directory is created with mode 0700 when missing.
func SaveConfig(dir string, c *Config) error {
	if err := EnsureDir(dir); err != nil {
		return err
	}
	tmp := fmt.Sprintf("config.toml.%d.%d.tmp", os.Getpid(), time.Now().UnixMilli())
	return writeAtomic(ConfigPath(dir), filepath.Join(dir, tmp), c.Bytes())
}

// UpdateConfig runs fn on the current config under the config lock and saves the result.
func UpdateConfig(dir string, fn func(c *Config) error) error {
	if err := EnsureDir(dir); err != nil {
		return err
	}
	unlock, err := LockFile(filepath.Join(dir, "config.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	c, err := LoadConfig(dir)
	if err != nil {
		return err
	}
	if err := fn(c); err != nil {
		return err
	}
	return SaveConfig(dir, c)
}

// EnsureDir creates dir with mode 0700 when it does not exist (an existing directory is left as is).
func EnsureDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}

// writeAtomic writes data to tmp (exclusive, 0600), syncs it and renames it over path.
func writeAtomic(path, tmp string, data []byte) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
