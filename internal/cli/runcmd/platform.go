package runcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
)

// Platform is the authenticated connection to the instance: a profile's JWT (refreshed before it expires) or
// an API key, with the pinned organization and application.
type Platform struct {
	Instance     string // normalised, no trailing slash
	OrgID, AppID string
	// Bearer returns the current bearer token (called for every request).
	Bearer    func(ctx context.Context) (string, error)
	HTTP      *http.Client
	UserAgent string
}

// Do sends one request: body (when not nil) as JSON, the bearer, X-Org-Id / X-Application-Id when known,
// then hdr (an empty value removes a header).
func (p *Platform) Do(ctx context.Context, method, path string, body any, hdr map[string]string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.Instance+path, rd)
	if err != nil {
		return nil, err
	}
	token, err := p.Bearer(ctx)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if p.UserAgent != "" {
		req.Header.Set("User-Agent", p.UserAgent)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.OrgID != "" {
		req.Header.Set("X-Org-Id", p.OrgID)
	}
	if p.AppID != "" {
		req.Header.Set("X-Application-Id", p.AppID)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := p.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, p.Instance+path, err)
	}
	return res, nil
}

func (p *Platform) client() *http.Client {
	if p.HTTP != nil {
		return p.HTTP
	}
	return http.DefaultClient
}

// JSON sends a JSON call and decodes a 2xx answer into out (when not nil); other statuses are
// *apiclient.APIError with the server's detail and code.
func (p *Platform) JSON(ctx context.Context, method, path string, in, out any) error {
	res, err := p.Do(ctx, method, path, in, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return apiclient.ErrorFromResponse(res, body)
	}
	if out == nil || res.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// Transport returns a round tripper that authenticates requests to the instance (the LLM and credential
// proxies): the current bearer in Authorization and X-Org-Id, set on every request.
func (p *Platform) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		token, err := p.Bearer(r.Context())
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+token)
		if p.OrgID != "" {
			r.Header.Set("X-Org-Id", p.OrgID)
		}
		if p.UserAgent != "" {
			r.Header.Set("User-Agent", p.UserAgent)
		}
		return base.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
