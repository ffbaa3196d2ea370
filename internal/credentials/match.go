package credentials

import (
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Glob semantics of authorizedUris (PACKAGES.md §4.2, RUNTIME.md §3.4), applied to the parsed URL rather than
// to the raw string:
//
//   - A pattern is `<scheme>://<host>[:<port>][<path>]`: the scheme (http or https) and the port must be
//     equal (default ports normalised away); the host is matched case-insensitively; the path is matched
//     anchored at both ends against the normalised path. A pattern without a path means "/".
//   - `**` matches any characters, `/` included; `*` matches any run of characters other than `/`. In the
//     host (which holds no `/`) both match any run of host characters, so `https://*.zendesk.com/**` matches
//     any subdomain depth of zendesk.com and nothing else. No wildcard means exact equality.
//   - The URL's query string is ignored. Patterns with a query or a fragment never match.
//   - The URL is refused before matching when it has userinfo, a fragment, an opaque part, a scheme other
//     than http/https, an invalid host, or an encoded '/' or '\' in its path; its path is percent-decoded and
//     its dot segments removed first, so `..` and `%2e%2e` cannot climb out of a matched prefix.

var hostPattern = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$`)

// NormalizeURL parses a target URL and returns its canonical form: the URL that is matched and that must be
// sent. Scheme and host are lower-cased, a trailing dot and the default port are dropped, the path is
// percent-decoded with dot segments removed (re-encoded by url.URL on output), and the query is kept as is.
func NormalizeURL(raw string) (*url.URL, error) {
	if strings.Contains(raw, "#") {
		return nil, &InvalidURLError{Reason: "fragments are not allowed"}
	}
	if before, _, _ := strings.Cut(raw, "?"); strings.Contains(before, "\\") {
		return nil, &InvalidURLError{Reason: "backslashes are not allowed"}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &InvalidURLError{Reason: "unparseable"}
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return nil, &InvalidURLError{Reason: "scheme must be http or https"}
	}
	if u.Opaque != "" || u.User != nil {
		return nil, &InvalidURLError{Reason: "userinfo is not allowed"}
	}
	host, port, err := normalizeHost(u.Hostname(), u.Port(), scheme)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(u.Host, ":") {
		return nil, &InvalidURLError{Reason: "empty port"}
	}
	p, err := normalizePath(u.EscapedPath())
	if err != nil {
		return nil, err
	}
	out := &url.URL{Scheme: scheme, Host: joinHostPort(host, port), Path: p, RawQuery: u.RawQuery}
	return out, nil
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

func normalizeHost(host, port, scheme string) (string, string, error) {
	host = strings.ToLower(host)
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" {
			return "", "", &InvalidURLError{Reason: "zoned IPv6 addresses are not allowed"}
		}
		host = addr.String()
	} else {
		host = strings.TrimSuffix(host, ".")
		if len(host) > 253 || !hostPattern.MatchString(host) {
			return "", "", &InvalidURLError{Reason: "invalid host"}
		}
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return "", "", &InvalidURLError{Reason: "invalid port"}
		}
		port = strconv.FormatUint(n, 10)
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		}
	}
	return host, port, nil
}

// normalizePath percent-decodes each segment of an escaped path and removes dot segments (RFC 3986 §5.2.4).
// Encoded '/' or '\' and NUL bytes are refused: they would make the segment structure ambiguous.
func normalizePath(escaped string) (string, error) {
	if escaped == "" {
		return "/", nil
	}
	if !strings.HasPrefix(escaped, "/") {
		return "", &InvalidURLError{Reason: "relative path"}
	}
	segs := strings.Split(escaped[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		dec, err := url.PathUnescape(s)
		if err != nil {
			return "", &InvalidURLError{Reason: "invalid percent-encoding in path"}
		}
		if strings.ContainsAny(dec, "/\\\x00") {
			return "", &InvalidURLError{Reason: "encoded '/', '\\' or NUL in path"}
		}
		last := i == len(segs)-1
		switch dec {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, dec)
		}
	}
	return "/" + strings.Join(out, "/"), nil
}

// pattern is a parsed authorizedUris entry.
type pattern struct {
	scheme string
	host   *regexp.Regexp
	port   string
	path   *regexp.Regexp
}

func parsePattern(s string) (*pattern, bool) {
	if strings.ContainsAny(s, "?#\\@") {
		return nil, false
	}
	scheme, rest, ok := strings.Cut(s, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") {
		return nil, false
	}
	authority, path := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	host, port := strings.ToLower(authority), ""
	if strings.HasPrefix(host, "[") {
		h, p, err := net.SplitHostPort(host)
		if err != nil {
			if !strings.HasSuffix(host, "]") {
				return nil, false
			}
			h, p = strings.Trim(host, "[]"), ""
		}
		host, port = h, p
		if _, err := netip.ParseAddr(host); err != nil || strings.Contains(host, "%") {
			return nil, false
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host, port = host[:i], host[i+1:]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return nil, false
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		host = addr.String()
	} else if !hostPattern.MatchString(strings.ReplaceAll(host, "*", "a")) {
		return nil, false
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return nil, false
		}
		port = strconv.FormatUint(n, 10)
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		}
	}
	// The path pattern is percent-decoded segment by segment like URLs are; dot segments are refused.
	var decoded []string
	for _, seg := range strings.Split(path[1:], "/") {
		d, err := url.PathUnescape(seg)
		if err != nil || d == "." || d == ".." || strings.ContainsAny(d, "/\\\x00") {
			return nil, false
		}
		decoded = append(decoded, d)
	}
	hostRE, err := regexp.Compile(globRegexp(host, true))
	if err != nil {
		return nil, false
	}
	pathRE, err := regexp.Compile(globRegexp("/"+strings.Join(decoded, "/"), false))
	if err != nil {
		return nil, false
	}
	return &pattern{scheme: scheme, host: hostRE, port: port, path: pathRE}, true
}

// globRegexp turns a glob into an anchored regexp: `**` → any characters, `*` → any characters but '/'.
func globRegexp(glob string, host bool) string {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for i := 0; i < len(glob); {
		if glob[i] != '*' {
			j := strings.IndexByte(glob[i:], '*')
			if j < 0 {
				j = len(glob) - i
			}
			b.WriteString(regexp.QuoteMeta(glob[i : i+j]))
			i += j
			continue
		}
		if strings.HasPrefix(glob[i:], "**") {
			b.WriteString(`.*`)
			i += 2
			for i < len(glob) && glob[i] == '*' {
				i++
			}
			continue
		}
		if host {
			b.WriteString(`.*`)
		} else {
			b.WriteString(`[^/]*`)
		}
		i++
	}
	b.WriteString(`\z`)
	return b.String()
}

func (p *pattern) match(u *url.URL) bool {
	return u.Scheme == p.scheme && u.Port() == p.port && p.host.MatchString(u.Hostname()) && p.path.MatchString(u.Path)
}

// ValidPattern reports whether s is a usable authorizedUris entry (see the package glob semantics).
func ValidPattern(s string) bool {
	_, ok := parsePattern(s)
	return ok
}

// MatchURI reports whether rawURL, once normalised (NormalizeURL), matches the authorizedUris glob pattern.
// Invalid URLs and invalid patterns never match.
func MatchURI(pattern, rawURL string) bool {
	u, err := NormalizeURL(rawURL)
	if err != nil {
		return false
	}
	p, ok := parsePattern(pattern)
	return ok && p.match(u)
}

// Authorized checks that credentials of provider may be sent to rawURL: the URL must be valid (NormalizeURL)
// and, unless the provider sets allowAllUris, match one of its authorizedUris. A provider with neither is
// refused everything (fail closed). Errors: *InvalidURLError, *NotAuthorizedError.
func Authorized(provider ProviderRules, rawURL string) error {
	u, err := NormalizeURL(rawURL)
	if err != nil {
		return err
	}
	return authorizedURL(provider, u)
}

func authorizedURL(provider ProviderRules, u *url.URL) error {
	if provider.Definition.AllowAllURIs {
		return nil
	}
	for _, s := range provider.Definition.AuthorizedURIs {
		if p, ok := parsePattern(s); ok && p.match(u) {
			return nil
		}
	}
	return &NotAuthorizedError{ProviderID: provider.ID, Host: u.Hostname(), Allowed: provider.Definition.AuthorizedURIs}
}
