package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// DefaultMaxBodyBytes caps the body read for placeholder substitution (the sidecar's 10 MiB body limit).
const DefaultMaxBodyBytes = 10 << 20

// Options tunes InjectWith.
type Options struct {
	// SubstituteBody substitutes placeholders in the request body too (provider_call substituteBody:true /
	// X-Substitute-Body). JSON bodies get JSON-string-escaped values, form bodies query-escaped values.
	SubstituteBody bool
	// MaxBodyBytes caps the body read for substitution (DefaultMaxBodyBytes when ≤ 0).
	MaxBodyBytes int64
}

// Inject is InjectWith without body substitution.
func Inject(req *http.Request, provider ProviderRules, creds map[string]string) error {
	return InjectWith(req, provider, creds, Options{})
}

// InjectWith prepares req to carry the connection's credentials, in the order of RUNTIME.md §3.4:
//
//  1. materialise creds (Materialize): pass the stored credentials with the manifest's rules, or a
//     sidecar payload's credentials with Payload.Rules;
//  2. substitute placeholders in the URL (ResolveTarget: component-aware, unresolved → *PlaceholderError),
//     normalise it and check it against authorizedUris/allowAllUris (*NotAuthorizedError, fail closed);
//  3. add the credentialQueryParams extension parameters (a caller-supplied parameter wins);
//  4. substitute placeholders in every header value (unresolved → *PlaceholderError; CR/LF → error), fixing
//     `Bearer{{token}}` into `Bearer <token>` in Authorization/Proxy-Authorization;
//  5. with SubstituteBody, substitute placeholders in the body;
//  6. set the credential header `<name>: <prefix> <value>` when a header name applies and the field has a
//     value; a caller-supplied header of the same name wins.
//
// req is modified only on success; on error it is left as it was (its body re-readable). The caller still
// sends through a netguard transport: authorization is about the URL, SSRF protection about the address.
func InjectWith(req *http.Request, provider ProviderRules, creds map[string]string, opts Options) error {
	pl := Materialize(provider, creds)
	u, err := ResolveTarget(provider, pl.Credentials, urlTemplate(req.URL))
	if err != nil {
		return err
	}
	return inject(req, provider, pl, u, opts)
}

// inject runs steps 3–6 of InjectWith for a URL already resolved and authorized.
func inject(req *http.Request, provider ProviderRules, pl Payload, u *url.URL, opts Options) error {
	c := pl.Credentials
	if len(provider.QueryParams) > 0 {
		q := u.Query()
		names := make([]string, 0, len(provider.QueryParams))
		for name := range provider.QueryParams {
			names = append(names, name)
		}
		sort.Strings(names)
		changed := false
		for _, name := range names {
			if q.Has(name) {
				continue
			}
			if v, ok := render(provider.QueryParams[name], c); ok {
				q.Set(name, v)
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}

	header := req.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	for name, values := range header {
		for i, v := range values {
			nv, err := substituteHeader(name, v, c)
			if err != nil {
				return err
			}
			values[i] = nv
		}
	}

	var body []byte
	bodyChanged := false
	if opts.SubstituteBody && req.Body != nil && req.Body != http.NoBody {
		orig, err := readBody(req, opts.MaxBodyBytes)
		if err != nil {
			return err
		}
		// Until success, req keeps an unread copy of its original body.
		req.Body = io.NopCloser(bytes.NewReader(orig))
		body, err = substituteBody(orig, req.Header.Get("Content-Type"), c)
		if err != nil {
			return err
		}
		bodyChanged = true
	}

	if name := pl.CredentialHeaderName; name != "" && header.Get(name) == "" {
		if v := c[pl.CredentialFieldName]; v != "" {
			hv := HeaderValue(pl.CredentialHeaderPrefix, v)
			if !validHeaderValue(hv) {
				return fmt.Errorf("%w: credential header %s", ErrInvalidHeader, http.CanonicalHeaderKey(name))
			}
			header.Set(name, hv)
		}
	}

	req.URL = u
	req.Host = u.Host
	req.Header = header
	if bodyChanged {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return nil
}

// urlTemplate rebuilds the string form of a request URL with its placeholders readable: url.Parse keeps the
// raw path and query, and the URL placeholder pattern also accepts percent-encoded braces.
func urlTemplate(u *url.URL) string {
	c := *u
	if c.RawPath == "" {
		c.RawPath = c.EscapedPath()
	}
	path := c.RawPath
	c.Path, c.RawPath = "", ""
	c.RawQuery, c.ForceQuery = "", false
	s := c.String() + path
	if u.RawQuery != "" || u.ForceQuery {
		s += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		s += "#" + u.EscapedFragment()
	}
	return s
}

var schemeGlued = regexp.MustCompile(`(?i)^(bearer|basic|token)(\{\{)`)

func substituteHeader(name, v string, creds map[string]string) (string, error) {
	canon := http.CanonicalHeaderKey(name)
	if canon == "Authorization" || canon == "Proxy-Authorization" {
		v = schemeGlued.ReplaceAllString(v, "$1 $2")
	}
	out, missing := Substitute(v, creds)
	if len(missing) > 0 {
		return "", &PlaceholderError{Where: "header " + canon, Names: missing}
	}
	if !validHeaderValue(out) {
		return "", fmt.Errorf("%w: header %s", ErrInvalidHeader, canon)
	}
	return out, nil
}

func validHeaderValue(v string) bool { return !strings.ContainsAny(v, "\r\n\x00") }

func readBody(req *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	data, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	_ = req.Body.Close()
	if err != nil {
		req.Body = io.NopCloser(bytes.NewReader(data))
		return nil, fmt.Errorf("credentials: read body: %w", err)
	}
	if int64(len(data)) > limit {
		req.Body = io.NopCloser(bytes.NewReader(data))
		return nil, ErrBodyTooLarge
	}
	return data, nil
}

func substituteBody(body []byte, contentType string, creds map[string]string) ([]byte, error) {
	escape := func(v string) string { return v }
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		escape = jsonEscape
	case mt == "application/x-www-form-urlencoded":
		escape = url.QueryEscape
	}
	out, missing := substitute(placeholderRE, string(body), creds, escape)
	if len(missing) > 0 {
		return nil, &PlaceholderError{Where: "body", Names: missing}
	}
	return []byte(out), nil
}

// jsonEscape escapes v for use inside a JSON string literal (without the quotes).
func jsonEscape(v string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return v
	}
	s := strings.TrimSuffix(b.String(), "\n")
	return s[1 : len(s)-1]
}

// NewRequest builds a request to a target URL template (the credential proxy's X-Target, provider_call's
// target), which may hold placeholders anywhere, including the host, and injects the credentials
// (InjectWith). header holds the caller's headers (may be nil); body may be nil.
func NewRequest(ctx context.Context, method, target string, header http.Header, body io.Reader,
	provider ProviderRules, creds map[string]string, opts Options) (*http.Request, error) {
	pl := Materialize(provider, creds)
	u, err := ResolveTarget(provider, pl.Credentials, target)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("credentials: build request: %w", err)
	}
	if header != nil {
		req.Header = header.Clone()
	}
	// The URL is already substituted: it is not substituted again (a value that looks like a placeholder
	// stays literal).
	if err := inject(req, provider, pl, u, opts); err != nil {
		return nil, err
	}
	return req, nil
}
