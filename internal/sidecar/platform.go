package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/credentials"
)

// maxPlatformResponse caps what the sidecar reads from one /internal/* answer.
const maxPlatformResponse = 8 << 20

// ErrNoPlatform is returned by platform calls when PLATFORM_API_URL is not configured.
var ErrNoPlatform = errors.New("PLATFORM_API_URL is not configured")

// PlatformError is a non-2xx answer of the platform; Detail is the problem+json detail (or title, or a body
// sample).
type PlatformError struct {
	Status int
	Detail string
}

func (e *PlatformError) Error() string {
	return fmt.Sprintf("platform answered %d: %s", e.Status, e.Detail)
}

// platform calls the platform's /internal/* routes with the run token.
type platform struct {
	base   *url.URL
	token  string
	client *http.Client
}

func newPlatform(base *url.URL, token string) *platform {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the platform is reached directly, never through an environment proxy
	return &platform{base: base, token: token, client: &http.Client{Transport: t, Timeout: 30 * time.Second}}
}

// endpoint joins path (already escaped as needed) to the base URL.
func (p *platform) endpoint(path string, query url.Values) string {
	u := *p.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = query.Encode()
	return u.String()
}

// do sends one request and returns the status, content type and (capped) body.
func (p *platform) do(ctx context.Context, method, path string, query url.Values, body any) (int, string, []byte, error) {
	if p == nil || p.base == nil {
		return 0, "", nil, ErrNoPlatform
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, "", nil, fmt.Errorf("encode body: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.endpoint(path, query), rd)
	if err != nil {
		return 0, "", nil, fmt.Errorf("build request: %w", err)
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPlatformResponse))
	if err != nil {
		return resp.StatusCode, "", nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), data, nil
}

// getJSON is do for GET routes: a non-2xx answer is a *PlatformError.
func (p *platform) getJSON(ctx context.Context, path string, query url.Values) (string, []byte, error) {
	status, ct, data, err := p.do(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return "", nil, err
	}
	if status/100 != 2 {
		return "", nil, &PlatformError{Status: status, Detail: problemDetail(data)}
	}
	return ct, data, nil
}

// credentials fetches a provider's credential payload (GET /internal/credentials/{providerId}).
func (p *platform) credentials(ctx context.Context, providerID string) (credentials.Payload, error) {
	return p.payload(ctx, http.MethodGet, "/internal/credentials/"+providerID)
}

// refresh asks the platform to refresh a provider's credentials (POST …/refresh).
func (p *platform) refresh(ctx context.Context, providerID string) (credentials.Payload, error) {
	return p.payload(ctx, http.MethodPost, "/internal/credentials/"+providerID+"/refresh")
}

func (p *platform) payload(ctx context.Context, method, path string) (credentials.Payload, error) {
	status, _, data, err := p.do(ctx, method, path, nil, nil)
	if err != nil {
		return credentials.Payload{}, err
	}
	if status/100 != 2 {
		return credentials.Payload{}, &PlatformError{Status: status, Detail: problemDetail(data)}
	}
	var pl credentials.Payload
	if err := json.Unmarshal(data, &pl); err != nil {
		return credentials.Payload{}, fmt.Errorf("decode credential payload: %w", err)
	}
	if pl.Credentials == nil {
		pl.Credentials = map[string]string{}
	}
	return pl, nil
}

// problemDetail extracts a human message from a problem+json (or any JSON with error/message) body.
func problemDetail(body []byte) string {
	var pr struct {
		Detail  string `json:"detail"`
		Title   string `json:"title"`
		Error   any    `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &pr) == nil {
		switch {
		case pr.Detail != "":
			return pr.Detail
		case pr.Message != "":
			return pr.Message
		case pr.Title != "":
			return pr.Title
		}
		if s, ok := pr.Error.(string); ok && s != "" {
			return s
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}
