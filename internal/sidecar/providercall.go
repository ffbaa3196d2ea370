package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/mcp"
	"github.com/appstrate/appstrate-go/internal/netguard"
)

// provider_call limits (RUNTIME.md §6).
const (
	ProviderCallTimeout = 30 * time.Second
	maxProviderResponse = 32 << 20
)

// providerCall is the provider_call tool: pre-flight checks, then the credential pipeline of RUNTIME.md §3.4
// under the run's concurrency limit.
func (t *toolset) providerCall(ctx context.Context, raw json.RawMessage) (*mcp.CallToolResult, error) {
	args, err := decodeCallArgs(raw, t.cfg.MaxRequestBodyBytes)
	if err != nil {
		var ae *argError
		if errors.As(err, &ae) {
			return failureResult(ae.msg, ae.structured), nil
		}
		return failureResult(err.Error(), nil), nil
	}
	select {
	case t.slots <- struct{}{}:
		defer func() { <-t.slots }()
	case <-ctx.Done():
		return failureResult("provider_call cancelled while waiting for a free slot", nil), nil
	}
	ctx, cancel := context.WithTimeout(ctx, ProviderCallTimeout)
	defer cancel()
	return t.callProvider(ctx, args), nil
}

func (t *toolset) callProvider(ctx context.Context, args *callArgs) *mcp.CallToolResult {
	payload, err := t.platform.credentials(ctx, args.ProviderID)
	if err != nil {
		return failureResult("Credential fetch failed: "+credentialFetchReason(err), nil)
	}
	jar := t.jar(args.ProviderID)
	resp, err := t.sender.send(ctx, args, payload, jar, t.cfg.MaxRequestBodyBytes)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		resp, err = t.refreshAndReplay(ctx, args, resp, jar)
	}
	if err != nil {
		return failureResult(callErrorText(args, err), nil)
	}
	defer func() { _ = resp.Body.Close() }()
	return t.providerResult(args, resp)
}

// refreshAndReplay asks the platform to refresh the credentials after a 401 and replays the call once. When
// the refresh fails the 401 answer is returned as is.
func (t *toolset) refreshAndReplay(ctx context.Context, args *callArgs, first *http.Response, jar *cookieJar) (*http.Response, error) {
	payload, err := t.platform.refresh(ctx, args.ProviderID)
	if err != nil {
		t.logger.Warn("credential refresh after 401 failed", "providerId", args.ProviderID, "error", credentialFetchReason(err))
		return first, nil
	}
	drain(first)
	resp, err := t.sender.send(ctx, args, payload, jar, t.cfg.MaxRequestBodyBytes)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && t.firstSecond401(args.ProviderID) {
		t.logger.Warn("upstream returned 401 after retry", "providerId", args.ProviderID)
	}
	return resp, err
}

func (t *toolset) firstSecond401(providerID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.warned401[providerID] {
		return false
	}
	t.warned401[providerID] = true
	return true
}

func (t *toolset) jar(providerID string) *cookieJar {
	t.mu.Lock()
	defer t.mu.Unlock()
	j := t.jars[providerID]
	if j == nil {
		j = &cookieJar{}
		t.jars[providerID] = j
	}
	return j
}

// providerResult reads the answer (capped) and turns it into a tool result.
func (t *toolset) providerResult(args *callArgs, resp *http.Response) *mcp.CallToolResult {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderResponse+1))
	if err != nil {
		return failureResult(callErrorText(args, fmt.Errorf("read response: %w", err)), nil)
	}
	ct := resp.Header.Get("Content-Type")
	o := output{label: "provider:" + args.ProviderID, mimeType: ct, isError: resp.StatusCode/100 != 2,
		upstream: upstreamInfo{Status: resp.StatusCode, Headers: allowedUpstreamHeaders(resp.Header), FinalURL: resp.Request.URL.String()}}
	if len(body) > maxProviderResponse {
		if _, isText := textOf(output{mimeType: ct, body: body[:0]}); !isText {
			return failureResult(fmt.Sprintf("Response of %s exceeds %d bytes", args.ProviderID, maxProviderResponse), nil)
		}
		body, o.truncated = body[:maxProviderResponse], maxProviderResponse
	}
	o.body = body
	return t.result(o)
}

// credentialFetchReason is the platform's message for a failed credential fetch.
func credentialFetchReason(err error) string {
	var pe *PlatformError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s (HTTP %d)", pe.Detail, pe.Status)
	}
	if errors.Is(err, ErrNoPlatform) {
		return err.Error()
	}
	if code := errorCode(err); code != "" {
		return "platform unreachable: " + code
	}
	return "platform unreachable"
}

// callErrorText explains a failed call to the model, never quoting a URL that may hold credentials.
func callErrorText(args *callArgs, err error) string {
	var placeholder *credentials.PlaceholderError
	var notAuth *credentials.NotAuthorizedError
	var invalid *credentials.InvalidURLError
	var blocked *netguard.BlockedError
	var redirect *redirectBlocked
	switch {
	case errors.As(err, &redirect):
		return redirect.Error()
	case errors.As(err, &notAuth):
		return notAuth.Error()
	case errors.As(err, &placeholder):
		return fmt.Sprintf("Unresolved placeholder(s) in %s: %s (not fields of the %s connection)", placeholder.Where,
			strings.Join(placeholder.Names, ", "), args.ProviderID)
	case errors.As(err, &invalid):
		return "Invalid target URL: " + invalid.Reason
	case errors.As(err, &blocked):
		return fmt.Sprintf("Blocked (ssrf): host=%s resolves to a %s address", blocked.Host, blocked.Reason)
	case errors.Is(err, credentials.ErrInvalidHeader), errors.Is(err, credentials.ErrBodyTooLarge):
		return strings.TrimPrefix(err.Error(), "credentials: ")
	case errors.Is(err, errTooManyRedirects):
		return fmt.Sprintf("Too many redirects (more than %d)", maxProviderRedirects)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("Upstream request timed out after %s", ProviderCallTimeout)
	}
	msg := "Upstream request failed"
	if code := errorCode(err); code != "" {
		msg += ": " + code
	}
	return msg
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// encodeBody renders the call's body and the Content-Type it needs ("" = keep the caller's). Multipart field
// values get placeholders substituted here when substituteBody is set; text bodies are substituted by
// credentials.NewRequest (which knows the JSON and form escapings).
func (a *callArgs) encodeBody(creds map[string]string) ([]byte, string, error) {
	switch {
	case a.Body == nil:
		return nil, "", nil
	case a.Body.Text != nil:
		return []byte(*a.Body.Text), "", nil
	case a.Body.IsBytes:
		return a.Body.Bytes, "", nil
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range a.Body.Multipart {
		if err := a.writePart(w, p, creds); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("encode multipart body: %w", err)
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

func (a *callArgs) writePart(w *multipart.Writer, p callPart, creds map[string]string) error {
	if !p.IsFile {
		value := p.Value
		if a.SubstituteBody {
			var missing []string
			if value, missing = credentials.Substitute(value, creds); len(missing) > 0 {
				return &credentials.PlaceholderError{Where: "multipart field " + p.Name, Names: missing}
			}
		}
		return w.WriteField(p.Name, value)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, quoteEscape(p.Name), quoteEscape(p.Filename)))
	ct := p.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	pw, err := w.CreatePart(h)
	if err != nil {
		return fmt.Errorf("encode multipart body: %w", err)
	}
	_, err = pw.Write(p.Bytes)
	return err
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "%0D", "\n", "%0A")

func quoteEscape(s string) string { return quoteEscaper.Replace(s) }
