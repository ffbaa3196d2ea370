package sidecar_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/mcp"
)

const gmail = "@appstrate/gmail"

// apiPayload is a bearer-token provider limited to api.provider.test.
func apiPayload(port, token string) credentials.Payload {
	return credentials.Payload{
		Credentials:            map[string]string{"access_token": token, "tenant": "acme"},
		AuthorizedURIs:         []string{"http://api.provider.test:" + port + "/**"},
		CredentialHeaderName:   "Authorization",
		CredentialHeaderPrefix: "Bearer",
		CredentialFieldName:    "access_token",
		AuthMode:               "oauth2",
	}
}

func TestProviderCallHappyPath(t *testing.T) {
	var seen http.Header
	port := startProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Set-Cookie", "sid=abc; Path=/; HttpOnly")
		w.Header().Set("X-Internal-Secret", "nope")
		_, _ = io.WriteString(w, `{"tenant":"`+r.URL.Query().Get("t")+`","path":"`+r.URL.Path+`"}`)
	}))
	h := newHarness(t, nil)
	h.platform.set(gmail, apiPayload(port, "tok-1"))

	res := h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail,
		"target": providerURL("api.provider.test", port, "/v1/messages") + "?t={{tenant}}", "headers": map[string]string{"X-Trace": "1"}}))
	if res.IsError {
		t.Fatalf("unexpected error result: %s", res.Text())
	}
	if got, want := res.Text(), `{"tenant":"acme","path":"/v1/messages"}`; got != want {
		t.Fatalf("text = %s, want %s", got, want)
	}
	status, headers, finalURL := upstreamMeta(t, res)
	if status != 200 || headers["etag"] != `"v1"` || headers["content-type"] != "application/json" || finalURL == "" {
		t.Fatalf("upstream meta = %d %v %q", status, headers, finalURL)
	}
	if _, leaked := headers["set-cookie"]; leaked {
		t.Fatal("set-cookie must not be reported")
	}
	if _, leaked := headers["x-internal-secret"]; leaked {
		t.Fatal("non-allowlisted header reported")
	}
	if b := budgetMeta(t, res); b["decision"] != "inline" {
		t.Fatalf("budget = %v", b)
	}
	if seen.Get("X-Trace") != "1" {
		t.Fatalf("caller header not forwarded: %v", seen)
	}
	// The cookie set by the first answer is sent back on the next call to the same provider.
	h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "target": providerURL("api.provider.test", port, "/again")}))
	if seen.Get("Cookie") != "sid=abc" {
		t.Fatalf("cookie jar: Cookie = %q", seen.Get("Cookie"))
	}
	for _, a := range h.platform.authSeen {
		if a != "Bearer "+testRunToken {
			t.Fatalf("platform call without the run token: %q", a)
		}
	}
}

func TestProviderCallRefusals(t *testing.T) {
	hits := 0
	port := startProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		switch r.URL.Path {
		case "/to-evil":
			http.Redirect(w, r, "http://evil.test:"+r.URL.Query().Get("p")+"/x", http.StatusFound)
		case "/to-loopback":
			http.Redirect(w, r, "http://127.0.0.1:1/x", http.StatusFound)
		case "/to-other":
			http.Redirect(w, r, "http://other.provider.test:"+r.URL.Query().Get("p")+"/x", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	h := newHarness(t, nil)
	h.platform.set(gmail, apiPayload(port, "tok"))
	allowAll := apiPayload(port, "tok")
	allowAll.AuthorizedURIs, allowAll.AllowAllURIs = nil, true
	h.platform.set("@appstrate/open", allowAll)

	tests := []struct {
		name, provider, target, want string
	}{
		{"unauthorized URL", gmail, providerURL("other.provider.test", port, "/x"), "URL not authorized for provider @appstrate/gmail"},
		{"ssrf name resolving to loopback", "@appstrate/open", providerURL("evil.test", port, "/x"), "Blocked (ssrf): host=evil.test resolves to a loopback address"},
		{"ssrf loopback literal", "@appstrate/open", providerURL("127.0.0.1", port, "/x"), "Blocked (ssrf): host=127.0.0.1"},
		{"ssrf metadata", "@appstrate/open", "http://169.254.169.254/latest/meta-data", "Blocked (ssrf): host=169.254.169.254"},
		{"redirect to loopback name", "@appstrate/open", providerURL("api.provider.test", port, "/to-evil") + "?p=" + port, "Redirect blocked (ssrf): host=evil.test"},
		{"redirect to loopback literal", "@appstrate/open", providerURL("api.provider.test", port, "/to-loopback"), "Redirect blocked (ssrf): host=127.0.0.1"},
		{"redirect outside authorizedUris", gmail, providerURL("api.provider.test", port, "/to-other") + "?p=" + port, "Redirect blocked (unauthorized): host=other.provider.test"},
		{"redirect loop", gmail, providerURL("api.provider.test", port, "/loop"), "Too many redirects"},
		{"unresolved placeholder", gmail, providerURL("api.provider.test", port, "/{{missing}}"), "Unresolved placeholder(s) in url: missing"},
		{"unknown provider", "@appstrate/nope", providerURL("api.provider.test", port, "/x"), "Credential fetch failed: Provider '@appstrate/nope' is not required by this agent (HTTP 404)"},
		{"scheme", "@appstrate/open", "file:///etc/passwd", "Invalid target URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": tt.provider, "target": tt.target}))
			if !res.IsError || !strings.Contains(res.Text(), tt.want) {
				t.Fatalf("result = %v %q, want error containing %q", res.IsError, res.Text(), tt.want)
			}
			if status, _, _ := upstreamMeta(t, res); status != 0 {
				t.Fatalf("upstream status = %d, want 0", status)
			}
		})
	}
}

func TestProviderCallRedirectFollowed(t *testing.T) {
	var finalCookie, finalAuth, finalMethod string
	port := startProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			http.SetCookie(w, &http.Cookie{Name: "step", Value: "1"})
			http.Redirect(w, r, "/final#frag", http.StatusSeeOther)
		case "/final":
			finalCookie, finalAuth, finalMethod = r.Header.Get("Cookie"), r.Header.Get("Authorization"), r.Method
			_, _ = io.WriteString(w, "landed")
		}
	}))
	h := newHarness(t, nil)
	h.platform.set(gmail, apiPayload(port, "tok"))
	res := h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "method": "POST", "body": "x=1",
		"target": providerURL("api.provider.test", port, "/start")}))
	if res.IsError || res.Text() != "landed" {
		t.Fatalf("result = %q", res.Text())
	}
	if _, _, finalURL := upstreamMeta(t, res); !strings.HasSuffix(finalURL, "/final") {
		t.Fatalf("finalUrl = %q", finalURL)
	}
	if finalCookie != "step=1" || finalAuth != "Bearer tok" || finalMethod != "GET" {
		t.Fatalf("final hop: cookie %q auth %q method %q", finalCookie, finalAuth, finalMethod)
	}
}

func TestProviderCallRefreshAfter401(t *testing.T) {
	calls := 0
	port := startProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer fresh" {
			http.Error(w, "expired", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "hello "+string(body))
	}))
	h := newHarness(t, nil)
	h.platform.set(gmail, apiPayload(port, "stale"))
	h.platform.setRefreshed(gmail, apiPayload(port, "fresh"))
	res := h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "method": "POST", "body": "again",
		"target": providerURL("api.provider.test", port, "/me")}))
	if res.IsError || res.Text() != "hello again" {
		t.Fatalf("result = %v %q", res.IsError, res.Text())
	}
	if calls != 2 || h.platform.refreshCount() != 1 {
		t.Fatalf("provider calls %d, refreshes %d", calls, h.platform.refreshCount())
	}

	// Refresh refused: the 401 answer is returned as an error result with its status.
	h.platform.set("@appstrate/revoked", apiPayload(port, "stale"))
	res = h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": "@appstrate/revoked", "target": providerURL("api.provider.test", port, "/me")}))
	if status, _, _ := upstreamMeta(t, res); !res.IsError || status != 401 {
		t.Fatalf("revoked: %v %d %q", res.IsError, status, res.Text())
	}
}

func TestProviderCallSpillAndRead(t *testing.T) {
	big := strings.Repeat("0123456789", 4000) // 40 000 chars ≈ 11 429 tokens > inline cap 8 000
	png := []byte("\x89PNG\r\n\x1a\nbinary")
	port := startProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, big)
		case "/png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(png)
		}
	}))
	h := newHarness(t, nil)
	h.platform.set(gmail, apiPayload(port, "tok"))
	ctx := context.Background()

	res := h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "target": providerURL("api.provider.test", port, "/big")}))
	link := resourceLink(t, res)
	if !strings.HasPrefix(link.URI, "appstrate://provider-response/run_test/") || link.Name != "provider:"+gmail {
		t.Fatalf("link = %+v", link)
	}
	if b := budgetMeta(t, res); b["decision"] != "spill" || b["reason"] != "inline_cap" {
		t.Fatalf("budget = %v", b)
	}
	read, err := h.client.ReadResource(ctx, link.URI)
	if err != nil || len(read.Contents) != 1 || read.Contents[0].IsBlob || read.Contents[0].Text != big {
		t.Fatalf("read text blob: %v", err)
	}

	res = h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "target": providerURL("api.provider.test", port, "/png")}))
	link = resourceLink(t, res)
	read, err = h.client.ReadResource(ctx, link.URI)
	if err != nil || !read.Contents[0].IsBlob || read.Contents[0].Blob != base64.StdEncoding.EncodeToString(png) || read.Contents[0].MimeType != "image/png" {
		t.Fatalf("read binary blob: %+v %v", read, err)
	}

	_, err = h.client.ReadResource(ctx, "appstrate://provider-response/run_test/nope")
	var rpcErr *mcp.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeInvalidParams {
		t.Fatalf("unknown blob: %v", err)
	}
}

func TestProviderCallRunBudget(t *testing.T) {
	chunk := strings.Repeat("a", 7000) // 2 000 tokens each
	port := startProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, chunk) }))
	h := newHarness(t, map[string]string{"SIDECAR_RUN_TOOL_OUTPUT_BUDGET_TOKENS": "5000"})
	h.platform.set(gmail, apiPayload(port, "tok"))
	var reasons []string
	for i := 0; i < 3; i++ {
		res := h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "target": providerURL("api.provider.test", port, "/")}))
		reasons = append(reasons, budgetMeta(t, res)["reason"].(string))
	}
	if strings.Join(reasons, ",") != "within_budget,within_budget,run_budget" {
		t.Fatalf("reasons = %v", reasons)
	}
}

func resourceLink(t *testing.T, res *mcp.CallToolResult) mcp.Content {
	t.Helper()
	for _, c := range res.Content {
		if c.Type == mcp.ContentResourceLink {
			return c
		}
	}
	t.Fatalf("no resource_link in %+v", res.Content)
	return mcp.Content{}
}

func TestProviderCallBodies(t *testing.T) {
	type seenReq struct {
		ct     string
		body   string
		fields map[string]string
		files  map[string]string
	}
	var seen seenReq
	port := startProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = seenReq{ct: r.Header.Get("Content-Type"), fields: map[string]string{}, files: map[string]string{}}
		if strings.HasPrefix(seen.ct, "multipart/form-data") {
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			for k, v := range r.MultipartForm.Value {
				seen.fields[k] = v[0]
			}
			for k, fhs := range r.MultipartForm.File {
				f, _ := fhs[0].Open()
				b, _ := io.ReadAll(f)
				seen.files[k] = fhs[0].Filename + ":" + fhs[0].Header.Get("Content-Type") + ":" + string(b)
			}
		} else {
			b, _ := io.ReadAll(r.Body)
			seen.body = string(b)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	h := newHarness(t, nil)
	h.platform.set(gmail, apiPayload(port, "tok"))
	target := providerURL("api.provider.test", port, "/upload")

	res := h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "target": target, "method": "POST",
		"headers": map[string]string{"Content-Type": "application/json"}, "body": `{"tenant":"{{tenant}}"}`, "substituteBody": true}))
	if res.IsError || seen.body != `{"tenant":"acme"}` || seen.ct != "application/json" {
		t.Fatalf("substituted text body: %q %q %q", res.Text(), seen.body, seen.ct)
	}
	res = h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "target": target, "method": "PUT", "body": `{{tenant}}`}))
	if res.IsError || seen.body != `{{tenant}}` {
		t.Fatalf("unsubstituted text body: %q", seen.body)
	}
	res = h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "target": target, "method": "POST",
		"body": map[string]any{"fromBytes": base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}), "encoding": "base64"}}))
	if res.IsError || seen.body != "\x00\x01\x02\xff" {
		t.Fatalf("bytes body: %q", seen.body)
	}
	res = h.call(t, "provider_call", jsonArgs(map[string]any{"providerId": gmail, "target": target, "method": "POST", "substituteBody": true,
		"body": map[string]any{"multipart": []any{
			map[string]any{"name": "who", "value": "{{tenant}}"},
			map[string]any{"name": "file", "filename": "a.txt", "bytes": base64.StdEncoding.EncodeToString([]byte("{{tenant}}")), "encoding": "base64", "contentType": "text/plain"},
		}}}))
	if res.IsError || seen.fields["who"] != "acme" || seen.files["file"] != "a.txt:text/plain:{{tenant}}" {
		t.Fatalf("multipart: %q %+v", res.Text(), seen)
	}
}

func TestProviderCallPreflight(t *testing.T) {
	h := newHarness(t, map[string]string{"SIDECAR_MAX_REQUEST_BODY_BYTES": "16"})
	tooBig := base64.StdEncoding.EncodeToString(make([]byte, 17))
	tests := []struct {
		name     string
		args     string
		want     string
		tooLarge bool
	}{
		{"missing providerId", `{"target":"https://x.test/"}`, "providerId is required", false},
		{"bad providerId", `{"providerId":"@Bad/ID","target":"https://x.test/"}`, "providerId is required", false},
		{"missing target", `{"providerId":"gmail"}`, "target is required", false},
		{"unknown member", `{"providerId":"gmail","target":"https://x.test/","extra":1}`, `unknown field "extra"`, false},
		{"bad method", `{"providerId":"gmail","target":"https://x.test/","method":"TRACE"}`, "method must be one of", false},
		{"body with GET", `{"providerId":"gmail","target":"https://x.test/","body":"x"}`, "A GET request cannot have a body", false},
		{"body with HEAD", `{"providerId":"gmail","target":"https://x.test/","method":"HEAD","body":"x"}`, "A HEAD request cannot have a body", false},
		{"reserved header", `{"providerId":"gmail","target":"https://x.test/","headers":{"X-Target":"y"}}`, `Header "X-Target" is reserved`, false},
		{"reserved header lower", `{"providerId":"gmail","target":"https://x.test/","headers":{"x-auth-refreshed":"1"}}`, "is reserved", false},
		{"header CRLF", `{"providerId":"gmail","target":"https://x.test/","headers":{"X-A":"a\r\nB: c"}}`, "control characters", false},
		{"url-safe base64", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"fromBytes":"-_8=","encoding":"base64"}}`, "Invalid base64", false},
		{"base64 whitespace", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"fromBytes":"AAAA\nAAAA","encoding":"base64"}}`, "Invalid base64", false},
		{"base64 unpadded", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"fromBytes":"AAA","encoding":"base64"}}`, "Invalid base64", false},
		{"wrong encoding", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"fromBytes":"AAAA","encoding":"hex"}}`, "a bytes body is", false},
		{"bytes too large", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"fromBytes":"` + tooBig + `","encoding":"base64"}}`, "Request body too large", true},
		{"text too large", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":"01234567890123456"}`, "Request body too large", true},
		{"substituteBody with bytes", `{"providerId":"gmail","target":"https://x.test/","method":"POST","substituteBody":true,"body":{"fromBytes":"AAAA","encoding":"base64"}}`, "substituteBody cannot be used", false},
		{"body number", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":3}`, "Invalid body", false},
		{"multipart no name", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"multipart":[{"value":"x"}]}}`, "name is required", false},
		{"multipart long filename", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"multipart":[{"name":"f","filename":"` + strings.Repeat("a", 1025) + `","bytes":"","encoding":"base64"}]}}`, "filename longer than 1024", false},
		{"multipart mixed part", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"multipart":[{"name":"f","value":"x","filename":"a"}]}}`, "a field part has only name and value", false},
		{"multipart too many parts", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"multipart":[` + strings.TrimSuffix(strings.Repeat(`{"name":"a","value":""},`, 257), ",") + `]}}`, "at most 256 multipart parts", false},
		{"multipart total too large", `{"providerId":"gmail","target":"https://x.test/","method":"POST","body":{"multipart":[{"name":"a","value":"0123456789"},{"name":"b","value":"0123456789"}]}}`, "Request body too large", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.call(t, "provider_call", tt.args)
			if !res.IsError || !strings.Contains(res.Text(), tt.want) {
				t.Fatalf("result = %v %q, want error containing %q", res.IsError, res.Text(), tt.want)
			}
			if status, headers, _ := upstreamMeta(t, res); status != 0 || len(headers) != 0 {
				t.Fatalf("upstream meta = %d %v", status, headers)
			}
			if tt.tooLarge != (res.StructuredContent["error"] == "PAYLOAD_TOO_LARGE") {
				t.Fatalf("structuredContent = %v", res.StructuredContent)
			}
		})
	}
	if h.platform.refreshCount() != 0 || len(h.platform.authSeen) != 0 {
		t.Fatal("pre-flight failures must not reach the platform")
	}
}

func TestPlatformTools(t *testing.T) {
	h := newHarness(t, nil)
	res := h.call(t, "run_history", `{"limit":5,"fields":["checkpoint","result"]}`)
	var hist struct {
		Object string `json:"object"`
		Data   []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if res.IsError || json.Unmarshal([]byte(res.Text()), &hist) != nil || hist.Object != "list" || hist.Data[0].ID != "run_1" {
		t.Fatalf("run_history = %q", res.Text())
	}
	res = h.call(t, "recall_memory", `{"q":"tea & milk","limit":3}`)
	if res.IsError || !strings.Contains(res.Text(), "likes tea") {
		t.Fatalf("recall_memory = %q", res.Text())
	}
	h.call(t, "run_history", `{}`)
	want := []string{"/internal/run-history?fields=checkpoint%2Cresult&limit=5", "/internal/memories?limit=3&q=tea+%26+milk", "/internal/run-history?"}
	if strings.Join(h.platform.queries, " ") != strings.Join(want, " ") {
		t.Fatalf("platform queries = %v", h.platform.queries)
	}
	for _, tc := range []struct{ tool, args, want string }{
		{"run_history", `{"limit":0}`, "limit must be between 1 and 50"},
		{"run_history", `{"fields":["state"]}`, `unknown field "state"`},
		{"run_history", `{"extra":true}`, `unknown field "extra"`},
		{"recall_memory", `{"q":""}`, "q must be 1 to 2000 characters"},
		{"recall_memory", `{"limit":51}`, "limit must be between 1 and 50"},
	} {
		if res := h.call(t, tc.tool, tc.args); !res.IsError || !strings.Contains(res.Text(), tc.want) {
			t.Errorf("%s %s = %q, want %q", tc.tool, tc.args, res.Text(), tc.want)
		}
	}
}

// With SIDECAR_PROVIDER_CALL_CONCURRENCY=1 a second call waits for the first: the provider never sees two at
// once.
func TestProviderCallConcurrencyLimit(t *testing.T) {
	var mu sync.Mutex
	inflight, maxInflight := 0, 0
	firstArrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	port := startProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inflight++
		maxInflight = max(maxInflight, inflight)
		mu.Unlock()
		once.Do(func() { close(firstArrived); <-release })
		mu.Lock()
		inflight--
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	h := newHarness(t, map[string]string{"SIDECAR_PROVIDER_CALL_CONCURRENCY": "1"})
	h.platform.set(gmail, apiPayload(port, "tok"))
	args := jsonArgs(map[string]any{"providerId": gmail, "target": providerURL("api.provider.test", port, "/")})
	var wg sync.WaitGroup
	results := make([]*mcp.CallToolResult, 2)
	wg.Add(1)
	go func() { defer wg.Done(); results[0] = h.call(t, "provider_call", args) }()
	<-firstArrived
	wg.Add(1)
	go func() { defer wg.Done(); results[1] = h.call(t, "provider_call", args) }()
	time.Sleep(50 * time.Millisecond) // give the second call every chance to overtake
	close(release)
	wg.Wait()
	if results[0].IsError || results[1].IsError || maxInflight != 1 {
		t.Fatalf("max in flight = %d, results %q %q", maxInflight, results[0].Text(), results[1].Text())
	}
}
