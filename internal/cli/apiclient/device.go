package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The OAuth client and scopes of the CLI (API.md §2.3).
const (
	ClientID = "appstrate-cli"
	Scope    = "openid profile email offline_access"

	deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"
	maxPollWindow   = 15 * time.Minute
	slowDownStep    = 5 * time.Second
)

// Clock is time for the device flow; tests replace it.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// Sleep implements Clock.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// DeviceFlowError is an RFC 6749/8628 error answer ({error, error_description}).
type DeviceFlowError struct {
	Code        string
	Description string
}

// deviceFlowMessages are the fixed sentences the upstream CLI prints for these codes.
var deviceFlowMessages = map[string]string{
	"access_denied":   "The request was refused. Run the command again if this was a mistake.",
	"expired_token":   "The code expired before you approved it. Run the command again to get a new one.",
	"invalid_client":  "This CLI is not registered on the target instance. The platform may be running an incompatible version.",
	"invalid_grant":   "The authorization server rejected the device code. Run the command again.",
	"invalid_request": "The authorization request was malformed.",
}

func (e *DeviceFlowError) Error() string {
	msg, ok := deviceFlowMessages[e.Code]
	switch {
	case ok && e.Code == "invalid_request" && e.Description != "":
		msg = strings.TrimSuffix(msg, ".") + ": " + e.Description // show the real reason (CLI.md note 4)
	case !ok && e.Description != "":
		msg = e.Description
	case !ok:
		msg = e.Code
	}
	return msg + " (" + e.Code + ")"
}

// DeviceCode is the answer of POST /api/auth/device/code.
type DeviceCode struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// DisplayCode splits an 8-character code as XXXX-XXXX.
func (d *DeviceCode) DisplayCode() string {
	if len(d.UserCode) == 8 && !strings.Contains(d.UserCode, "-") {
		return d.UserCode[:4] + "-" + d.UserCode[4:]
	}
	return d.UserCode
}

// TokenResponse is a successful answer of POST /api/auth/cli/token.
type TokenResponse struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshExpiresIn *int64 `json:"refresh_expires_in"`
	Scope            string `json:"scope"`
}

// Auth holds what the unauthenticated OAuth calls need.
type Auth struct {
	Instance  string // normalized instance URL
	Insecure  bool   // http:// to a non-loopback host allowed
	HTTP      *http.Client
	UserAgent string
}

func (a *Auth) client() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return http.DefaultClient
}

// postForm sends a form and returns the status and body.
func (a *Auth) postForm(ctx context.Context, path string, form url.Values, headers map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Instance+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := a.client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return res.StatusCode, body, nil
}

// oauthError reads {error, error_description}; a missing error is invalid_request.
func oauthError(status int, body []byte) *DeviceFlowError {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Detail      string `json:"detail"` // problem+json (rate limits...)
		Code        string `json:"code"`
	}
	_ = json.Unmarshal(body, &e)
	if e.Error == "" {
		e.Error = "invalid_request"
		if status == http.StatusTooManyRequests {
			e.Error = "slow_down"
		}
		if e.Description == "" {
			e.Description = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
			if e.Detail != "" {
				e.Description += ": " + e.Detail
			}
		}
	}
	return &DeviceFlowError{Code: e.Error, Description: e.Description}
}

// RequestDeviceCode starts the device flow and validates both verification URIs against the instance.
func (a *Auth) RequestDeviceCode(ctx context.Context) (*DeviceCode, error) {
	form := url.Values{"client_id": {ClientID}, "scope": {Scope}}
	status, body, err := a.postForm(ctx, "/api/auth/device/code", form, nil)
	if err != nil {
		return nil, fmt.Errorf("request a device code from %s: %w", a.Instance, err)
	}
	if status < 200 || status > 299 {
		return nil, oauthError(status, body)
	}
	var dc DeviceCode
	if err := json.Unmarshal(body, &dc); err != nil || dc.DeviceCode == "" || dc.UserCode == "" || dc.VerificationURI == "" {
		return nil, &DeviceFlowError{Code: "invalid_request", Description: "the device code answer is incomplete"}
	}
	for _, u := range []string{dc.VerificationURI, dc.VerificationURIComplete} {
		if u == "" {
			continue
		}
		if err := a.checkVerificationURI(u); err != nil {
			return nil, &DeviceFlowError{Code: "invalid_request", Description: err.Error()}
		}
	}
	return &dc, nil
}

// checkVerificationURI accepts only an http(s) URL on the instance's own origin, so a hostile answer cannot
// send the user to approve the code elsewhere.
func (a *Auth) checkVerificationURI(raw string) error {
	inst, err := url.Parse(a.Instance)
	if err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("verification URI %q is not an http(s) URL", raw)
	}
	if u.Scheme == "http" && !a.Insecure && !IsLoopbackHost(u.Hostname()) {
		return fmt.Errorf("verification URI %q is not HTTPS", raw)
	}
	if !SameOrigin(u, inst) {
		return fmt.Errorf("verification URI %s is not on the instance origin %s; log in with --instance %s://%s",
			raw, a.Instance, u.Scheme, u.Host)
	}
	return nil
}

// PollOptions tunes PollToken.
type PollOptions struct {
	DeviceName string // X-Appstrate-Device-Name
	Clock      Clock  // RealClock when nil
	// OnSlowDown is told the new interval after each slow_down (may be nil).
	OnSlowDown func(interval time.Duration)
}

// PollToken polls POST /api/auth/cli/token until the user approves or denies the code, or it expires. It
// sleeps `interval` before each poll, adds 5 s on slow_down, and gives up after min(expires_in, 15 min).
func (a *Auth) PollToken(ctx context.Context, dc *DeviceCode, opts PollOptions) (*TokenResponse, error) {
	clock := opts.Clock
	if clock == nil {
		clock = RealClock{}
	}
	interval := time.Duration(max(dc.Interval, 0)) * time.Second
	window := maxPollWindow
	if dc.ExpiresIn > 0 {
		window = min(window, time.Duration(dc.ExpiresIn)*time.Second)
	}
	deadline := clock.Now().Add(window)
	headers := map[string]string{"User-Agent": a.UserAgent}
	if opts.DeviceName != "" {
		headers["X-Appstrate-Device-Name"] = opts.DeviceName
	}
	form := url.Values{"grant_type": {deviceCodeGrant}, "device_code": {dc.DeviceCode}, "client_id": {ClientID}}
	for {
		if err := clock.Sleep(ctx, interval); err != nil {
			return nil, err
		}
		if !clock.Now().Before(deadline) {
			return nil, &DeviceFlowError{Code: "expired_token"}
		}
		status, body, err := a.postForm(ctx, "/api/auth/cli/token", form, headers)
		if err != nil {
			return nil, fmt.Errorf("poll %s: %w", a.Instance, err)
		}
		if status >= 200 && status <= 299 {
			return decodeTokens(body, true)
		}
		e := oauthError(status, body)
		switch e.Code {
		case "authorization_pending":
		case "slow_down":
			interval += slowDownStep
			if opts.OnSlowDown != nil {
				opts.OnSlowDown(interval)
			}
		default:
			return nil, e
		}
	}
}

// decodeTokens checks a token answer: a refresh token is required, and on the device grant its lifetime.
func decodeTokens(body []byte, deviceGrant bool) (*TokenResponse, error) {
	var tr TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return nil, errors.New("the token endpoint answered without an access_token")
	}
	if tr.RefreshToken == "" {
		if deviceGrant {
			return nil, errors.New("Server did not issue a refresh token — the instance may be running a pre-2.x Appstrate. Upgrade the platform and log in again.") //lint:ignore ST1005 shown to users as is
		}
		return nil, errors.New("Server did not return a rotated refresh_token — the session cannot continue. Run: appstrate login") //lint:ignore ST1005 shown to users as is
	}
	if deviceGrant && tr.RefreshExpiresIn == nil {
		return nil, errors.New("Server did not return refresh_expires_in — the instance is non-conforming.") //lint:ignore ST1005 shown to users as is
	}
	return &tr, nil
}

// Refresh exchanges a refresh token (grant_type=refresh_token). An OAuth error comes back as a
// *DeviceFlowError (invalid_grant for an expired, revoked, reused or unknown token).
func (a *Auth) Refresh(ctx context.Context, refreshToken string) (*TokenResponse, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {ClientID}}
	status, body, err := a.postForm(ctx, "/api/auth/cli/token", form, map[string]string{"User-Agent": a.UserAgent})
	if err != nil {
		return nil, fmt.Errorf("refresh the session at %s: %w", a.Instance, err)
	}
	if status < 200 || status > 299 {
		return nil, oauthError(status, body)
	}
	return decodeTokens(body, false)
}

// Revoke revokes the refresh token's family server-side (POST /api/auth/cli/revoke); the body is ignored.
func (a *Auth) Revoke(ctx context.Context, refreshToken string) error {
	form := url.Values{"token": {refreshToken}, "client_id": {ClientID}}
	status, _, err := a.postForm(ctx, "/api/auth/cli/revoke", form, map[string]string{"User-Agent": a.UserAgent})
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("HTTP %d %s", status, http.StatusText(status))
	}
	return nil
}
