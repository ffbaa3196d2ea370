package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/cli/profile"
)

// refreshMargin: the access token is refreshed when it has this long left (or less).
const refreshMargin = 30 * time.Second

// Client sends authenticated requests for one profile.
type Client struct {
	ProfileName string
	Profile     profile.Profile // instance and pins
	Insecure    bool            // --insecure / APPSTRATE_INSECURE
	Store       *profile.Store
	HTTP        *http.Client
	UserAgent   string
	Now         func() time.Time

	mu sync.Mutex // merges the refreshes of this process
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Instance is the profile's instance URL after the URL policy.
func (c *Client) Instance() (string, error) {
	return NormalizeInstance(c.Profile.Instance, c.Insecure)
}

func (c *Client) auth(instance string) *Auth {
	return &Auth{Instance: instance, Insecure: c.Insecure, HTTP: c.httpClient(), UserAgent: c.UserAgent}
}

// sessionGone is the error for a profile whose tokens are gone.
func (c *Client) sessionGone() error {
	return &AuthError{Msg: fmt.Sprintf("Not logged in on profile %q (no stored session, or it expired). Run: appstrate login --profile %s",
		c.ProfileName, c.ProfileName)}
}

// Token returns a usable access token, refreshing it first when it expires within 30 s.
func (c *Client) Token(ctx context.Context) (string, error) {
	t, err := c.Store.Load(c.ProfileName)
	if err != nil {
		return "", err
	}
	if t == nil {
		return "", c.sessionGone()
	}
	if time.UnixMilli(t.ExpiresAt).Sub(c.now()) > refreshMargin {
		return t.AccessToken, nil
	}
	return c.refresh(ctx, t.AccessToken)
}

// Tokens returns the stored pair without refreshing (nil when not logged in).
func (c *Client) Tokens() (*profile.Tokens, error) { return c.Store.Load(c.ProfileName) }

// refresh rotates the pair under the in-process mutex and the cross-process lock. stale is the access token
// the caller holds: when the store has another one, another process (or goroutine) already rotated the pair
// and that one is used instead of presenting the refresh token a second time.
func (c *Client) refresh(ctx context.Context, stale string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := c.Store.Lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	t, err := c.Store.Load(c.ProfileName)
	if err != nil {
		return "", err
	}
	if t == nil {
		return "", c.sessionGone()
	}
	if t.AccessToken != stale && time.UnixMilli(t.ExpiresAt).Sub(c.now()) > refreshMargin {
		return t.AccessToken, nil
	}
	instance, err := c.Instance()
	if err != nil {
		return "", err
	}
	tr, err := c.auth(instance).Refresh(ctx, t.RefreshToken)
	var dfe *DeviceFlowError
	switch {
	case errors.As(err, &dfe) && dfe.Code == "invalid_grant":
		_ = c.Store.Delete(c.ProfileName) // the profile stays in config.toml
		return "", &AuthError{Msg: fmt.Sprintf("Session for profile %q is no longer valid (invalid_grant). Run: appstrate login --profile %s",
			c.ProfileName, c.ProfileName)}
	case err != nil && dfe == nil && strings.Contains(err.Error(), "rotated refresh_token"):
		_ = c.Store.Delete(c.ProfileName)
		return "", &AuthError{Msg: err.Error()}
	case err != nil:
		return "", err // network or other errors: the tokens are kept
	}
	now := c.now()
	next := profile.Tokens{AccessToken: tr.AccessToken, ExpiresAt: now.Add(time.Duration(tr.ExpiresIn) * time.Second).UnixMilli(),
		RefreshToken: tr.RefreshToken, RefreshExpiresAt: t.RefreshExpiresAt}
	if tr.RefreshExpiresIn != nil {
		next.RefreshExpiresAt = now.Add(time.Duration(*tr.RefreshExpiresIn) * time.Second).UnixMilli()
	}
	if err := c.Store.Save(c.ProfileName, next); err != nil {
		return "", fmt.Errorf("save the refreshed session: %w", err)
	}
	return next.AccessToken, nil
}

// Header is one request header, in the order it is sent.
type Header struct{ Name, Value string }

// DefaultHeaders are the headers of every authenticated call: User-Agent, Authorization, and X-Org-Id /
// X-Application-Id when pinned.
func (c *Client) DefaultHeaders(token string) []Header {
	h := []Header{{"User-Agent", c.UserAgent}, {"Authorization", "Bearer " + token}}
	if c.Profile.OrgID != "" {
		h = append(h, Header{"X-Org-Id", c.Profile.OrgID})
	}
	if c.Profile.ApplicationID != "" {
		h = append(h, Header{"X-Application-Id", c.Profile.ApplicationID})
	}
	return h
}

// Request is one authenticated call.
type Request struct {
	Method  string
	Path    string // absolute path on the instance, with its query
	Body    []byte // nil: no body
	Headers map[string]string
	NoRetry bool // no reload/refresh and retry on a 401
}

// Do sends the request with the profile's credentials. On a 401 it reloads the stored tokens (another process
// may have rotated them) or refreshes, and retries once; if that fails too the first 401 is returned.
func (c *Client) Do(ctx context.Context, r Request) (*http.Response, error) {
	instance, err := c.Instance()
	if err != nil {
		return nil, err
	}
	token, err := c.Token(ctx)
	if err != nil {
		return nil, err
	}
	res, err := c.send(ctx, instance, r, token)
	if err != nil || res.StatusCode != http.StatusUnauthorized || r.NoRetry {
		return res, err
	}
	fresh, rerr := c.refresh(ctx, token)
	if rerr != nil {
		var ae *AuthError
		if errors.As(rerr, &ae) {
			res.Body.Close()
			return nil, rerr
		}
		return res, nil
	}
	retry, err := c.send(ctx, instance, r, fresh)
	if err != nil || retry.StatusCode == http.StatusUnauthorized {
		if retry != nil {
			retry.Body.Close()
		}
		return res, nil
	}
	res.Body.Close()
	return retry, nil
}

func (c *Client) send(ctx context.Context, instance string, r Request, token string) (*http.Response, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, instance+r.Path, body)
	if err != nil {
		return nil, err
	}
	for _, h := range c.DefaultHeaders(token) {
		req.Header.Set(h.Name, h.Value)
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, instance+r.Path, err)
	}
	return res, nil
}

// JSON sends a JSON call: in (when not nil) is the body; a 2xx body is decoded into out (when not nil; 204
// decodes nothing). A 401 is an AuthError; other statuses are *APIError.
func (c *Client) JSON(ctx context.Context, method, path string, in, out any) error {
	r := Request{Method: method, Path: path, Headers: map[string]string{"Accept": "application/json"}}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.Body = b
	}
	res, err := c.Do(ctx, r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		return &AuthError{Msg: fmt.Sprintf("Unauthorized — your session may have been revoked. Run: appstrate login --profile %s", c.ProfileName)}
	case res.StatusCode < 200 || res.StatusCode > 299:
		return ErrorFromResponse(res, body)
	case res.StatusCode == http.StatusNoContent || out == nil:
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// List calls GET path and decodes the `data` array of the list envelope into out (a pointer to a slice).
func (c *Client) List(ctx context.Context, path string, out any) error {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := c.JSON(ctx, http.MethodGet, path, nil, &env); err != nil {
		return err
	}
	if len(env.Data) == 0 || env.Data[0] != '[' {
		return fmt.Errorf("Malformed list response from %s: expected { object: \"list\", data: [...] }.", path) //lint:ignore ST1005 shown to users as is
	}
	return json.Unmarshal(env.Data, out)
}
