package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/appstrate/appstrate-go/internal/mcp"
)

// FuzzHandleMessage feeds arbitrary bodies to the server core: it must never panic, and every answer must be a
// JSON-RPC response (or batch of them) with a status that matches.
func FuzzHandleMessage(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/requests/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s := mcp.NewServer(mcp.Implementation{Name: "fuzz", Version: "1"})
	s.AddTool(mcp.Tool{Name: "echo"}, func(_ context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(string(args))}}, nil
	})
	s.SetResourceReader(func(context.Context, string) (*mcp.ReadResourceResult, error) {
		return nil, mcp.NewError(mcp.CodeInvalidParams, "not found")
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		out, status := s.HandleMessage(context.Background(), body)
		if out == nil {
			if status != http.StatusAccepted {
				t.Fatalf("no body but status %d", status)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON answer %q", out)
		}
		if out[0] == '[' {
			var batch []mcp.Response
			if err := json.Unmarshal(out, &batch); err != nil || len(batch) == 0 {
				t.Fatalf("bad batch answer %s: %v", out, err)
			}
			return
		}
		var resp mcp.Response
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("bad answer %s: %v", out, err)
		}
		if resp.JSONRPC != "2.0" || (resp.Error == nil) == (resp.Result == nil) {
			t.Fatalf("answer must carry exactly one of result/error: %s", out)
		}
	})
}
