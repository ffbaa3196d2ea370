package config

import (
	"errors"
	"net/url"
	"strings"
)

const redactedValue = "[redacted]"

// Redacted returns the effective configuration as (name, value) pairs in the order of the variable
// table, for `appstrate serve --print-config`. Secret values are shown as "[redacted]" ("" when unset);
// URLs that may carry credentials (DATABASE_URL, REDIS_URL, PROXY_URL) are shown with the password
// replaced by "xxxxx".
func (c *Config) Redacted() []Setting {
	out := make([]Setting, 0, len(variables))
	for _, v := range variables {
		s := Setting{Name: v.name, Value: v.show(c), Secret: v.redact != nil}
		if s.Secret {
			s.Value = v.redact(s.Value)
		}
		out = append(out, s)
	}
	return out
}

// masked marks a URL variable whose password must be hidden.
func (v variable) masked() variable {
	v.redact = maskURL
	return v
}

// secretJSON marks a JSON variable that carries secrets; empty values ([] or {}) stay visible as "".
func (v variable) secretJSON() variable {
	v.redact = redactJSON
	return v
}

func redactAll(s string) string {
	if s == "" {
		return ""
	}
	return redactedValue
}

func redactJSON(s string) string {
	switch strings.TrimSpace(s) {
	case "", "[]", "{}", "null":
		return ""
	}
	return redactedValue
}

// maskURL replaces the password of a URL (userinfo or a "password" query parameter) with "xxxxx".
// When the URL does not parse, everything between the scheme and the last "@" is masked.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return maskUnparsedURL(raw)
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func maskUnparsedURL(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	start := strings.Index(raw, "://") + len("://")
	if start < len("://") || start > at {
		start = 0
	}
	return raw[:start] + "xxxxx" + raw[at:]
}

// redactError hides the secret part of an *Error's value, using the redaction of the variable it names.
func redactError(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Value == "" {
		return err
	}
	if v, ok := variableNamed(e.Var); ok && v.redact != nil {
		e.Value = v.redact(e.Value)
		if e.Value == "" {
			e.Value = redactedValue
		}
	}
	return err
}

func variableNamed(name string) (variable, bool) {
	for _, v := range variables {
		if v.name == name {
			return v, true
		}
	}
	return variable{}, false
}
