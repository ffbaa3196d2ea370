package runner_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
	"github.com/appstrate/appstrate-go/internal/runner"
)

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fileResult is the provider_call result of a body saved to path.
func fileResult(status int, contentType, path string, data []byte) string {
	return `{"status":` + strconv.Itoa(status) + `,"headers":{"content-type":"` + contentType + `","etag":"\"v1\""},` +
		`"body":{"kind":"file","path":"` + path + `","size":` + strconv.Itoa(len(data)) + `,"mimeType":"` + contentType +
		`","sha256":"` + sha(data) + `"}}`
}

const jsonHeaders = `"headers":{"content-type":"application/json","etag":"\"v1\""}`

// TestProviderCall: the runner-side provider_call shapes the sidecar's answers per RUNTIME.md §4.4 — text
// inline, resource links read and saved to responses/<toolCallId>.bin, responseMode honoured, failures with
// their status — and translates fromFile and fromBytes bodies for the sidecar.
func TestProviderCall(t *testing.T) {
	sc := newFakeSidecar(llmtest.Script{})
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)
	_, tools, ws := connect(t, srv.URL, []string{"notion"})
	if err := os.WriteFile(filepath.Join(ws.Dir(), "report.pdf"), []byte("%PDF-1.7 data"), 0o644); err != nil {
		t.Fatal(err)
	}
	pdf64 := base64.StdEncoding.EncodeToString([]byte("%PDF-1.7 data"))

	tests := []struct {
		name string
		args string
		// want is the result; wantErr the error result (a *runner.ToolError) containing it.
		want, wantErr string
		// saved is a file the call must have written in the workspace, with its content.
		saved, content string
		// sent is what the sidecar must have received.
		sent string
	}{
		{name: "inline text", args: `"target":"https://api/me"`,
			want: `{"status":200,` + jsonHeaders + `,"body":{"kind":"text","text":"{\"ok\":true}"}}`},
		{name: "toFile", args: `"target":"https://api/me","responseMode":{"toFile":true}`,
			want:  fileResult(200, "application/json", "responses/call_toFile.bin", []byte(`{"ok":true}`)),
			saved: "responses/call_toFile.bin", content: `{"ok":true}`,
			sent: `{"providerId":"notion","target":"https://api/me"}`},
		{name: "maxInlineBytes smaller than the body", args: `"target":"https://api/me","responseMode":{"maxInlineBytes":4}`,
			want: fileResult(200, "application/json", "responses/call_maxInlineBytes-smaller-than-the-body.bin", []byte(`{"ok":true}`))},
		{name: "spilled by the sidecar", args: `"target":"https://api/big"`,
			want:  fileResult(200, "application/json", "responses/call_spilled-by-the-sidecar.bin", []byte(bigJSON)),
			saved: "responses/call_spilled-by-the-sidecar.bin", content: bigJSON},
		{name: "spilled, inline within maxInlineBytes", args: `"target":"https://api/big","responseMode":{"maxInlineBytes":100000}`,
			want: `{"status":200,` + jsonHeaders + `,"body":{"kind":"text","text":` + mustJSON(t, bigJSON) + `}}`},
		{name: "binary", args: `"target":"https://api/png"`,
			want:  fileResult(200, "image/png", "responses/call_binary.bin", pngBytes),
			saved: "responses/call_binary.bin", content: string(pngBytes)},
		{name: "binary inline", args: `"target":"https://api/png","responseMode":{"maxInlineBytes":2000000}`,
			want: `{"status":200,"headers":{"content-type":"image/png","etag":"\"v1\""},"body":{"kind":"inline","data":"` +
				base64.StdEncoding.EncodeToString(pngBytes) + `","encoding":"base64","mimeType":"image/png","size":` + strconv.Itoa(len(pngBytes)) + `}}`},
		{name: "large inline text", args: `"target":"https://api/huge"`,
			want:  `"body":{"kind":"file","path":"responses/call_large-inline-text.bin","size":280000,"mimeType":"text/csv"`,
			saved: "responses/call_large-inline-text.bin", content: hugeText},
		{name: "truncated by the sidecar", args: `"target":"https://api/cut"`,
			want: `{"status":200,"headers":{"content-type":"text/plain","etag":"\"v1\""},"body":{"kind":"text","text":"abc","truncated":true}}`},
		{name: "provider error", args: `"target":"https://api/missing"`,
			wantErr: `{"status":404,` + jsonHeaders + `,"body":{"kind":"text","text":"{\"error\":\"not found\"}"}}`},
		{name: "sidecar refusal", args: `"target":"https://fail"`,
			wantErr: `{"status":502,"headers":{},"body":{"kind":"text","text":"Upstream request failed: ECONNREFUSED (api.example.com)"}}`},
		{name: "resource gone", args: `"target":"https://api/gone"`,
			wantErr: "the response (HTTP 200) is stored at " + goneURI + " but could not be read"},
		{name: "fromFile body", args: `"target":"https://api/me","method":"POST","body":{"fromFile":"report.pdf"}`,
			want: `"body":{"kind":"text"`,
			sent: `{"body":{"encoding":"base64","fromBytes":"` + pdf64 + `"},"method":"POST","providerId":"notion","target":"https://api/me"}`},
		{name: "multipart parts", args: `"target":"https://api/me","method":"POST","body":{"multipart":[{"name":"title","value":"Q3"},` +
			`{"name":"file","fromFile":"./report.pdf","contentType":"application/pdf"},{"name":"raw","fromBytes":"aGk=","encoding":"base64"}]}`,
			want: `"body":{"kind":"text"`,
			sent: `{"body":{"multipart":[{"name":"title","value":"Q3"},` +
				`{"bytes":"` + pdf64 + `","contentType":"application/pdf","encoding":"base64","filename":"report.pdf","name":"file"},` +
				`{"bytes":"aGk=","encoding":"base64","filename":"raw","name":"raw"}]},"method":"POST","providerId":"notion","target":"https://api/me"}`},
		{name: "fromFile outside the workspace", args: `"target":"https://api/me","method":"POST","body":{"fromFile":"../../etc/passwd"}`,
			wantErr: "body.fromFile: path is outside the workspace"},
		{name: "fromFile missing", args: `"target":"https://api/me","method":"POST","body":{"fromFile":"nope.bin"}`,
			wantErr: "body.fromFile: nope.bin: no such file or directory"},
		{name: "fromFile with other members", args: `"target":"https://api/me","method":"POST","body":{"fromFile":"report.pdf","encoding":"x"}`,
			wantErr: `a {"fromFile"} body takes no other member`},
		{name: "part with both sources", args: `"target":"https://api/me","method":"POST","body":{"multipart":[{"name":"f","fromFile":"report.pdf","fromBytes":"aGk="}]}`,
			wantErr: `body.multipart[0] has both "fromFile" and "fromBytes"`},
		{name: "bad responseMode", args: `"target":"https://api/me","responseMode":{"toFile":"yes"}`,
			wantErr: `"responseMode" must be {"toFile"?: boolean, "maxInlineBytes"?: integer}`},
		{name: "negative maxInlineBytes", args: `"target":"https://api/me","responseMode":{"maxInlineBytes":-1}`,
			wantErr: `"responseMode.maxInlineBytes" must not be negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(sc.recorded())
			ctx := runner.WithToolCallID(context.Background(), "call_"+strings.ReplaceAll(tt.name, " ", "-"))
			out, err := tools[runner.ToolProviderCall].Call(ctx, json.RawMessage(`{"providerId":"notion",`+tt.args+`}`))
			if tt.wantErr != "" {
				var te *runner.ToolError
				if !errors.As(err, &te) || !strings.Contains(te.Message, tt.wantErr) {
					t.Fatalf("got %s, %v; want an error containing %s", out, err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out, tt.want) {
				t.Fatalf("got %s, %v; want %s", out, err, tt.want)
			}
			if tt.saved != "" {
				got, err := os.ReadFile(filepath.Join(ws.Dir(), filepath.FromSlash(tt.saved)))
				if err != nil || string(got) != tt.content {
					t.Fatalf("saved %s: %d bytes, %v", tt.saved, len(got), err)
				}
			}
			if tt.sent != "" {
				rec := sc.recorded()
				if len(rec) != before+1 || rec[before] != "provider_call "+tt.sent {
					t.Fatalf("the sidecar received %v, want %s", rec[before:], tt.sent)
				}
			}
		})
	}
}

// A second response of the same tool call gets its own file.
func TestProviderCallKeepsEarlierResponses(t *testing.T) {
	srv := httptest.NewServer(newFakeSidecar(llmtest.Script{}))
	t.Cleanup(srv.Close)
	_, tools, ws := connect(t, srv.URL, []string{"notion"})
	ctx := runner.WithToolCallID(context.Background(), "toolu/../x")
	var paths []string
	for range 2 {
		out, err := tools[runner.ToolProviderCall].Call(ctx, json.RawMessage(`{"providerId":"notion","target":"https://api/png"}`))
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Body struct {
				Path string `json:"path"`
			} `json:"body"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, res.Body.Path)
	}
	if strings.Join(paths, ",") != "responses/toolux.bin,responses/toolux-2.bin" {
		t.Fatalf("paths %v", paths)
	}
	for _, p := range paths {
		if b, err := os.ReadFile(filepath.Join(ws.Dir(), p)); err != nil || string(b) != string(pngBytes) {
			t.Fatalf("%s: %v", p, err)
		}
	}
}
