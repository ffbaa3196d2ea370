package webhooks

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/appstrate/appstrate-go/internal/netguard"
)

// MaxURLLength bounds a webhook URL.
const MaxURLLength = 2048

// ValidateURL checks a webhook URL when it is created or changed. The rules:
//   - an absolute https URL with a host, no credentials, a port in 1..65535;
//   - plain http only to localhost, 127.0.0.1 or [::1], and only when allowLocal (outside production), so a
//     developer can point a webhook at a receiver on their machine; those three hosts are refused
//     altogether in production;
//   - never an IP literal of an internal range (private, loopback, link-local, metadata, CGNAT, ...), nor a
//     name that is an IP in disguise (a numeric last label, as in 2130706433 or 0x7f.1) or under .localhost.
//
// Host names are not resolved here: their addresses are checked when each delivery connects (a name can
// change its answer at any time), see Service.Guard.
func ValidateURL(raw string, allowLocal bool) error {
	if strings.TrimSpace(raw) != raw || raw == "" {
		return errors.New("must be an absolute https URL without surrounding spaces")
	}
	if len(raw) > MaxURLLength {
		return errors.New("must be at most " + strconv.Itoa(MaxURLLength) + " characters")
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return errors.New("must not contain spaces or control characters")
		}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return errors.New("must be an absolute https URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return errors.New("must use https")
	}
	if u.User != nil {
		return errors.New("must not contain credentials (user:password@)")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("must name a host")
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("has an invalid port")
	}
	if IsLocalHost(host) {
		if !allowLocal {
			return errors.New("must not point to localhost in production")
		}
		return nil
	}
	if scheme != "https" {
		if allowLocal {
			return errors.New("must use https (plain http is only accepted for localhost, 127.0.0.1 and [::1])")
		}
		return errors.New("must use https")
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if reason := netguard.Classify(addr); reason != "" {
			return errors.New("must not point to a " + string(reason) + " address")
		}
		return nil
	}
	if strings.Contains(u.Host, "[") { // a bracketed host that is not an IPv6 address
		return errors.New("has an invalid host")
	}
	return validateHostName(host)
}

// IsLocalHost reports whether host (without port or brackets) is one of the local development hosts that
// plain http may target outside production: localhost, 127.0.0.1 or ::1.
func IsLocalHost(host string) bool {
	switch strings.ToLower(strings.TrimSuffix(host, ".")) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// validateHostName refuses host names that are not plain DNS names or that stand for internal addresses.
func validateHostName(host string) error {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "" || len(name) > 253 {
		return errors.New("has an invalid host")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("has an invalid host")
		}
		for _, r := range l {
			if r < 0x80 && !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return errors.New("has an invalid host")
			}
		}
	}
	last := labels[len(labels)-1]
	if last == "localhost" {
		return errors.New("must not point to localhost")
	}
	if isNumericLabel(last) {
		return errors.New("has an invalid host (a numeric address that is not a plain IP)")
	}
	return nil
}

// isNumericLabel reports whether a label is a decimal, octal or hexadecimal number, as the legacy
// inet_aton forms (127.1, 2130706433, 0x7f000001) use: no top-level domain looks like that.
func isNumericLabel(l string) bool {
	digits := l
	if strings.HasPrefix(l, "0x") {
		digits = l[2:]
		if digits == "" {
			return true
		}
		for _, r := range digits {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
				return false
			}
		}
		return true
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
