package runcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/runner"
)

// maxProviderResult caps the body of a provider answer given back to the model.
const maxProviderResult = 256 << 10

const localProviderCallSchema = `{
  "type": "object",
  "properties": {
    "providerId": {"type": "string", "description": "Provider id, e.g. @appstrate/gmail"},
    "target": {"type": "string", "description": "Absolute URL of the provider API endpoint; {{field}} placeholders are replaced with the connection's credential fields"},
    "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"], "default": "GET"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Request headers; the credential is added for you"},
    "body": {"type": "string", "description": "Request body (text)"}
  },
  "required": ["providerId", "target"],
  "additionalProperties": false
}`

// providerCallTool is provider_call for a local run: the call goes through the platform's credential proxy,
// which injects the credentials of the caller's connection (they never reach this machine).
func providerCallTool(p *Platform, runID, profileID string, providers []string) runner.Tool {
	session := ids.UUID()
	return runner.Tool{
		Name: "provider_call",
		Description: "Call the API of a connected provider (" + strings.Join(providers, ", ") + ") with your connection's " +
			"credentials, injected by the platform. Returns {status, headers, body}.",
		Schema: json.RawMessage(localProviderCallSchema),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var args struct {
				ProviderID string            `json:"providerId"`
				Target     string            `json:"target"`
				Method     string            `json:"method"`
				Headers    map[string]string `json:"headers"`
				Body       *string           `json:"body"`
			}
			if err := json.Unmarshal(raw, &args); err != nil {
				return "", &runner.ToolError{Message: "provider_call: invalid arguments: " + err.Error()}
			}
			if !slices.Contains(providers, args.ProviderID) {
				return "", &runner.ToolError{Message: fmt.Sprintf("provider_call: %q is not a connected provider of this run (%s)",
					args.ProviderID, strings.Join(providers, ", "))}
			}
			method := strings.ToUpper(orDefault(args.Method, http.MethodGet))
			hdr := map[string]string{"X-Provider": args.ProviderID, "X-Target": args.Target, "X-Session-Id": session,
				"X-Run-Id": runID, "Accept": ""}
			if profileID != "" {
				hdr["X-Connection-Profile-Id"] = profileID
			}
			for k, v := range args.Headers {
				if _, reserved := hdr[http.CanonicalHeaderKey(k)]; !reserved && !strings.EqualFold(k, "Authorization") {
					hdr[k] = v
				}
			}
			var body []byte
			if args.Body != nil {
				body = []byte(*args.Body)
			}
			res, err := doProxy(ctx, p, method, hdr, body)
			if err == nil && res.StatusCode == http.StatusUnauthorized && res.Header.Get("X-Auth-Refreshed") == "true" {
				res.Body.Close()
				res, err = doProxy(ctx, p, method, hdr, body) // the platform refreshed the token: once more
			}
			if err != nil {
				return "", &runner.ToolError{Message: "provider_call: " + err.Error()}
			}
			defer res.Body.Close()
			return providerResult(res)
		},
	}
}

func doProxy(ctx context.Context, p *Platform, method string, hdr map[string]string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.Instance+"/api/credential-proxy/proxy", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if p.AppID != "" {
		req.Header.Set("X-Application-Id", p.AppID)
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	return (&http.Client{Transport: p.Transport(nil)}).Do(req)
}

// providerResult is the answer as the model sees it; a refusal of the proxy itself (the platform's
// problem+json) is an error result.
func providerResult(res *http.Response) (string, error) {
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxProviderResult+1))
	if err != nil {
		return "", &runner.ToolError{Message: "provider_call: reading the answer failed: " + err.Error()}
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		var prob struct {
			Detail    string `json:"detail"`
			Code      string `json:"code"`
			RequestID string `json:"requestId"` // the platform's problems carry it; a provider's would not
		}
		if json.Unmarshal(raw, &prob) == nil && prob.Detail != "" && prob.Code != "" && prob.RequestID != "" {
			return "", &runner.ToolError{Message: fmt.Sprintf("provider_call refused (%d %s): %s", res.StatusCode, prob.Code, prob.Detail)}
		}
	}
	truncated := len(raw) > maxProviderResult || res.Header.Get("X-Truncated") == "true"
	if len(raw) > maxProviderResult {
		raw = raw[:maxProviderResult]
	}
	headers := map[string]string{}
	for _, k := range []string{"Content-Type", "Location", "Retry-After", "Link"} {
		if v := res.Header.Get(k); v != "" {
			headers[k] = v
		}
	}
	out := map[string]any{"status": res.StatusCode, "headers": headers}
	if utf8.Valid(raw) {
		out["body"] = string(raw)
	} else {
		out["body"] = fmt.Sprintf("[binary body: %d bytes of %s]", len(raw), orDefault(res.Header.Get("Content-Type"), "unknown type"))
	}
	if truncated {
		out["truncated"] = true
	}
	b, _ := json.Marshal(out)
	return string(b), nil
}
