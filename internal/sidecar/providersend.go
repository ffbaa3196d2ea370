package sidecar

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/netguard"
)

// maxProviderRedirects is the number of redirects provider_call follows.
const maxProviderRedirects = 10

var errTooManyRedirects = fmt.Errorf("too many redirects (more than %d)", maxProviderRedirects)

// redirectBlocked is a redirect hop refused by the SSRF policy or the provider's authorizedUris.
type redirectBlocked struct {
	reason string // "ssrf" or "unauthorized"
	host   string
}

func (e *redirectBlocked) Error() string {
	return "Redirect blocked (" + e.reason + "): host=" + e.host
}

// providerSender sends provider calls: every address is checked by the SSRF policy (on resolved addresses,
// at dial time when there is no outbound proxy), redirects are followed by hand so that every hop is
// re-checked and cookies are captured.
type providerSender struct {
	policy netguard.Policy
	client *http.Client
}

func newProviderSender(policy netguard.Policy, proxy *url.URL) *providerSender {
	var transport *http.Transport
	if proxy == nil {
		transport = policy.Transport()
	} else {
		// Through PROXY_URL the proxy resolves the name; each hop is checked beforehand (CheckURL).
		transport = http.DefaultTransport.(*http.Transport).Clone()
		transport.Proxy = http.ProxyURL(proxy)
	}
	return &providerSender{policy: policy, client: &http.Client{Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// send builds the request with the payload's credentials and follows redirects.
func (s *providerSender) send(ctx context.Context, args *callArgs, payload credentials.Payload, jar *cookieJar, maxBody int64) (*http.Response, error) {
	rules := payload.Rules(args.ProviderID)
	body, contentType, err := args.encodeBody(payload.Credentials)
	if err != nil {
		return nil, err
	}
	header := args.Headers.Clone()
	if contentType != "" {
		header.Set("Content-Type", contentType)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	opts := credentials.Options{SubstituteBody: args.SubstituteBody && args.Body != nil && args.Body.Text != nil, MaxBodyBytes: maxBody}
	req, err := credentials.NewRequest(ctx, args.Method, args.Target, header, rd, rules, payload.Credentials, opts)
	if err != nil {
		return nil, err
	}
	callerCookie := req.Header.Get("Cookie")
	jar.apply(req, callerCookie)
	return s.follow(ctx, req, rules, jar, callerCookie)
}

// follow sends req and then each redirect hop, re-checking every one.
func (s *providerSender) follow(ctx context.Context, req *http.Request, rules credentials.ProviderRules, jar *cookieJar, callerCookie string) (*http.Response, error) {
	first := req.URL
	for hop := 0; ; hop++ {
		if err := s.policy.CheckURL(ctx, req.URL); err != nil {
			if hop > 0 {
				return nil, &redirectBlocked{reason: "ssrf", host: req.URL.Hostname()}
			}
			return nil, err
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return nil, err
		}
		jar.store(resp)
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" {
			return resp, nil
		}
		drain(resp)
		if hop >= maxProviderRedirects {
			return nil, errTooManyRedirects
		}
		next, err := nextHop(req, resp.StatusCode, loc, rules, first, jar, callerCookie)
		if err != nil {
			return nil, err
		}
		req = next
	}
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// nextHop builds the request for a redirect: the Location resolved against the current URL without userinfo
// or fragment, authorized against the provider's rules, with the method and body rewritten as browsers do
// (303 → GET; 301/302 after POST → GET), and credentials dropped when an allow-all provider leaves the
// first request's origin.
func nextHop(prev *http.Request, status int, location string, rules credentials.ProviderRules, first *url.URL, jar *cookieJar, callerCookie string) (*http.Request, error) {
	u, err := prev.URL.Parse(location)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		host := ""
		if u != nil {
			host = u.Hostname()
		}
		return nil, &redirectBlocked{reason: "ssrf", host: host}
	}
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	if !rules.Definition.AllowAllURIs {
		if err := credentials.Authorized(rules, u.String()); err != nil {
			return nil, &redirectBlocked{reason: "unauthorized", host: u.Hostname()}
		}
	}
	method := prev.Method
	keepBody := true
	if status == http.StatusSeeOther && method != http.MethodHead || (status == http.StatusMovedPermanently || status == http.StatusFound) && method == http.MethodPost {
		method, keepBody = http.MethodGet, false
	}
	var body io.Reader
	if keepBody && prev.GetBody != nil {
		rc, err := prev.GetBody()
		if err != nil {
			return nil, fmt.Errorf("replay body: %w", err)
		}
		body = rc
	}
	next, err := http.NewRequestWithContext(prev.Context(), method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build redirect request: %w", err)
	}
	next.Header = prev.Header.Clone()
	next.Header.Del("Cookie")
	if !keepBody {
		next.Header.Del("Content-Type")
		next.Header.Del("Content-Length")
	}
	if rules.Definition.AllowAllURIs && !sameOrigin(u, first) {
		name, _ := rules.Header()
		for _, h := range []string{"Authorization", "Proxy-Authorization", name} {
			if h != "" {
				next.Header.Del(h)
			}
		}
		return next, nil
	}
	jar.apply(next, callerCookie)
	return next, nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// cookieJar keeps one provider's cookies for the run: name → value, attributes ignored (RUNTIME.md §3.4).
type cookieJar struct {
	mu      sync.Mutex
	cookies []*http.Cookie
}

// store captures the Set-Cookie headers of a response (a cookie expired by the server is removed).
func (j *cookieJar) store(resp *http.Response) {
	set := resp.Cookies()
	if len(set) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range set {
		j.remove(c.Name)
		if c.MaxAge >= 0 && c.Value != "" {
			j.cookies = append(j.cookies, &http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
}

func (j *cookieJar) remove(name string) {
	out := j.cookies[:0]
	for _, c := range j.cookies {
		if c.Name != name {
			out = append(out, c)
		}
	}
	j.cookies = out
}

// apply sets the Cookie header: the caller's own cookies, then the stored ones.
func (j *cookieJar) apply(req *http.Request, callerCookie string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	parts := []string{}
	if callerCookie != "" {
		parts = append(parts, callerCookie)
	}
	for _, c := range j.cookies {
		parts = append(parts, c.String())
	}
	if len(parts) == 0 {
		req.Header.Del("Cookie")
		return
	}
	req.Header.Set("Cookie", strings.Join(parts, "; "))
}
