package credentials

import (
	"net/url"
	"regexp"
	"strings"
)

// hostValueRE is what a placeholder value may contain when it stands in the host part of a URL.
var hostValueRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ResolveTarget substitutes the credentials' `{{field}}` placeholders into a target URL template, then
// normalises (NormalizeURL) and authorizes (Authorized) the result, which is the URL to send. Substitution
// is component-aware, so a value cannot change the URL's structure:
//
//   - a placeholder opening the template (`{{site_url}}/wp-json/…`) takes an absolute http(s) base URL;
//   - in the host, a value may only hold letters, digits, '.', '-' and '_';
//   - in the path a value is path-escaped ('/' becomes %2F, which NormalizeURL then refuses); in the query
//     it is query-escaped;
//   - placeholders in the scheme or the fragment are refused.
//
// Placeholders without a value fail with *PlaceholderError (leftovers are never sent). Percent-encoded
// braces (`%7B%7Bfield%7D%7D`, as url.URL.String writes them) are recognised too.
func ResolveTarget(p ProviderRules, creds map[string]string, rawTarget string) (*url.URL, error) {
	s, err := substituteURL(rawTarget, creds)
	if err != nil {
		return nil, err
	}
	u, err := NormalizeURL(s)
	if err != nil {
		return nil, err
	}
	if err := authorizedURL(p, u); err != nil {
		return nil, err
	}
	return u, nil
}

type urlPart int

const (
	partScheme urlPart = iota
	partBase
	partHost
	partPath
	partQuery
	partFragment
)

func substituteURL(tmpl string, creds map[string]string) (string, error) {
	matches := urlPlaceholderRE.FindAllStringSubmatchIndex(tmpl, -1)
	if len(matches) == 0 {
		return tmpl, nil
	}
	// Component boundaries are computed on the template with every placeholder masked.
	masked := []byte(tmpl)
	for _, m := range matches {
		for i := m[0]; i < m[1]; i++ {
			masked[i] = 'x'
		}
	}
	ms := string(masked)
	leading := matches[0][0] == 0
	authStart, authEnd := -1, -1
	pathStart := 0
	if leading {
		pathStart = matches[0][1]
	} else {
		i := strings.Index(ms, "://")
		if i < 0 {
			return "", &InvalidURLError{Reason: "not an absolute URL"}
		}
		authStart = i + 3
		authEnd = len(ms)
		if j := strings.IndexAny(ms[authStart:], "/?#"); j >= 0 {
			authEnd = authStart + j
		}
		pathStart = authEnd
	}
	pathEnd := len(ms)
	if j := strings.IndexAny(ms[pathStart:], "?#"); j >= 0 {
		pathEnd = pathStart + j
	}
	queryEnd := len(ms)
	if j := strings.IndexByte(ms[pathEnd:], '#'); j >= 0 {
		queryEnd = pathEnd + j
	}
	partOf := func(pos int) urlPart {
		switch {
		case leading && pos == 0:
			return partBase
		case !leading && pos < authStart:
			return partScheme
		case !leading && pos < authEnd:
			return partHost
		case pos < pathEnd:
			return partPath
		case pos < queryEnd:
			return partQuery
		}
		return partFragment
	}

	var b strings.Builder
	missing := map[string]bool{}
	last := 0
	for _, m := range matches {
		b.WriteString(tmpl[last:m[0]])
		last = m[1]
		name := tmpl[m[2]:m[3]]
		v, ok := creds[name]
		if !ok {
			missing[name] = true
			b.WriteString(tmpl[m[0]:m[1]])
			continue
		}
		switch partOf(m[0]) {
		case partScheme:
			return "", &InvalidURLError{Reason: "placeholder in the scheme"}
		case partFragment:
			return "", &InvalidURLError{Reason: "fragments are not allowed"}
		case partBase:
			base, err := url.Parse(v)
			if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" ||
				base.RawQuery != "" || base.ForceQuery || strings.ContainsAny(v, "#?") {
				return "", &InvalidURLError{Reason: "placeholder " + name + " is not an absolute http(s) base URL"}
			}
			if strings.HasPrefix(tmpl[m[1]:], "/") {
				v = strings.TrimRight(v, "/")
			}
			b.WriteString(v)
		case partHost:
			if !hostValueRE.MatchString(v) {
				return "", &InvalidURLError{Reason: "placeholder " + name + " has characters not allowed in a host"}
			}
			b.WriteString(v)
		case partPath:
			b.WriteString(url.PathEscape(v))
		case partQuery:
			b.WriteString(url.QueryEscape(v))
		}
	}
	b.WriteString(tmpl[last:])
	if len(missing) > 0 {
		return "", &PlaceholderError{Where: "url", Names: sortedKeys(missing)}
	}
	return b.String(), nil
}
