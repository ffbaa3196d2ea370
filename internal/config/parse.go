package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Parsers for single values. Each returns the normalised value, or an error whose text is the expected form.

func parseURL(raw string, schemes ...string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Hostname() == "" || !slices.Contains(schemes, u.Scheme) {
		return nil, false
	}
	u.Host = strings.ToLower(u.Host)
	return u, true
}

// parseBaseURL accepts an absolute http(s) URL without credentials, query or fragment; a trailing
// slash is removed.
func parseBaseURL(raw string) (string, error) {
	u, ok := parseURL(raw, "http", "https")
	if !ok || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("an absolute http:// or https:// URL without query, e.g. https://appstrate.example.com")
	}
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), strings.TrimRight(u.RawPath, "/")
	return u.String(), nil
}

// parseOrigin accepts scheme://host[:port] with scheme http or https.
func parseOrigin(raw string) (string, error) {
	u, ok := parseURL(raw, "http", "https")
	if !ok || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("an origin scheme://host[:port] such as https://app.example.com")
	}
	return u.Scheme + "://" + u.Host, nil
}

func originOf(appURL string) string {
	u, err := url.Parse(appURL)
	if err != nil {
		return appURL
	}
	return u.Scheme + "://" + u.Host
}

// isLocalHost reports whether host may be served over plain http in production.
func isLocalHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func parseDatabaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" ||
		(u.Hostname() == "" && u.Query().Get("host") == "") {
		return "", errors.New("a PostgreSQL URL such as postgres://user:password@host:5432/appstrate")
	}
	return raw, nil
}

func parseRedisURL(raw string) (string, error) {
	if _, ok := parseURL(raw, "redis", "rediss"); !ok {
		return "", errors.New("a Redis URL such as redis://[:password@]host:6379[/db] (redis:// or rediss://)")
	}
	return raw, nil
}

func parseProxyURL(raw string) (string, error) {
	if _, ok := parseURL(raw, "http", "https", "socks5", "socks5h"); !ok {
		return "", errors.New("a proxy URL such as http://[user:password@]host:port (http, https, socks5 or socks5h)")
	}
	return raw, nil
}

// parseDir makes a directory path absolute.
func parseDir(raw string) (string, error) {
	abs, err := filepath.Abs(raw)
	if err != nil {
		return "", fmt.Errorf("a directory path (%v)", err)
	}
	return abs, nil
}

func parseLogLevel(raw string) (slog.Level, error) {
	switch strings.ToLower(raw) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("one of debug, info, warn, error")
}

func formatLogLevel(l slog.Level) string { return strings.ToLower(l.String()) }

var (
	kidPattern            = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	bootstrapTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22,128}$`)
	cookieDomainPattern   = regexp.MustCompile(`^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
	domainPattern         = cookieDomainPattern
	modulePattern         = regexp.MustCompile(`^[A-Za-z0-9@._/-]+$`)
)

const kidForm = "a key id of 1 to 32 characters from A-Z a-z 0-9 _ -"

func parseKID(raw string) (string, error) {
	if !kidPattern.MatchString(raw) {
		return "", errors.New(kidForm)
	}
	return raw, nil
}

func parseBootstrapToken(raw string) (string, error) {
	if !bootstrapTokenPattern.MatchString(raw) {
		return "", errors.New("a base64url token (A-Z a-z 0-9 _ -) of 22 to 128 characters")
	}
	return raw, nil
}

func parseCookieDomain(raw string) (string, error) {
	s := strings.ToLower(raw)
	if !cookieDomainPattern.MatchString(s) {
		return "", errors.New("a domain name such as example.com or .example.com")
	}
	return s, nil
}

func parseDomain(raw string) (string, error) {
	s := strings.ToLower(raw)
	if !domainPattern.MatchString(s) || strings.HasPrefix(s, ".") {
		return "", errors.New("a domain name such as example.com")
	}
	return s, nil
}

// parseEmail accepts a bare address (no display name) and lower-cases it.
func parseEmail(raw string) (string, error) {
	a, err := mail.ParseAddress(raw)
	if err != nil || a.Name != "" || a.Address != raw {
		return "", errors.New("an email address such as admin@example.com")
	}
	return strings.ToLower(raw), nil
}

// parseMailbox accepts an RFC 5322 address, with or without display name.
func parseMailbox(raw string) (string, error) {
	if _, err := mail.ParseAddress(raw); err != nil {
		return "", errors.New(`an email address such as "Appstrate <noreply@example.com>"`)
	}
	return raw, nil
}

func parseModule(raw string) (string, error) {
	if !modulePattern.MatchString(raw) {
		return "", errors.New("a module id such as oidc or @appstrate/module-codex")
	}
	return raw, nil
}

// parseWord accepts text without whitespace (image names, hosts, socket paths).
func parseWord(raw string) (string, error) {
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' }) {
		return "", errors.New("a value without spaces")
	}
	return raw, nil
}

const encryptionKeyForm = "the standard base64 encoding of exactly 32 random bytes (e.g. `openssl rand -base64 32`)"

func parseEncryptionKey(raw string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) != 32 {
		return nil, errors.New(encryptionKeyForm)
	}
	return b, nil
}

func formatBase64(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}
