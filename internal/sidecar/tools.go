package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/appstrate/appstrate-go/internal/mcp"
	"github.com/appstrate/appstrate-go/internal/netguard"
)

// Server identity announced by initialize.
var serverInfo = mcp.Implementation{Name: "appstrate-sidecar", Version: "1"}

// toolset holds the per-run state of the MCP tools: budget, blob store, cookie jars, concurrency limiter.
type toolset struct {
	cfg      Config
	platform *platform
	policy   netguard.Policy
	logger   *slog.Logger
	budget   *tokenBudget
	blobs    *blobStore
	slots    chan struct{} // provider_call concurrency limiter
	sender   *providerSender

	mu        sync.Mutex
	jars      map[string]*cookieJar // per provider
	warned401 map[string]bool       // providers whose second 401 was already logged
}

func newToolset(cfg Config, pf *platform, policy *netguard.Policy, logger *slog.Logger) *toolset {
	t := &toolset{cfg: cfg, platform: pf, logger: logger, budget: newTokenBudget(cfg),
		blobs: newBlobStore(cfg.RunID, DefaultBlobStoreBytes), slots: make(chan struct{}, max(1, cfg.ProviderCallConcurrency)),
		jars: map[string]*cookieJar{}, warned401: map[string]bool{}}
	if policy != nil {
		t.policy = *policy
	}
	t.sender = newProviderSender(t.policy, cfg.ProxyURL)
	return t
}

// server builds the MCP server with the three tools and the blob store as resource reader.
func (t *toolset) server() *mcp.Server {
	s := mcp.NewServer(serverInfo)
	s.AddTool(mcp.Tool{Name: "provider_call", Description: "Call a connected provider's HTTP API with the run's credentials injected by the sidecar " +
		"(the agent never sees them). Large or binary responses come back as a resource link to read with resources/read.",
		InputSchema: json.RawMessage(providerCallSchema)}, t.providerCall)
	s.AddTool(mcp.Tool{Name: "run_history", Description: "List this agent's previous successful runs (newest first) with their checkpoint and/or result.",
		InputSchema: json.RawMessage(runHistorySchema)}, t.runHistory)
	s.AddTool(mcp.Tool{Name: "recall_memory", Description: "Search the memories saved by previous runs of this agent.",
		InputSchema: json.RawMessage(recallMemorySchema)}, t.recallMemory)
	s.SetResourceReader(t.blobs.read)
	return s
}

const runHistorySchema = `{
  "type": "object",
  "properties": {
    "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
    "fields": {"type": "array", "items": {"type": "string", "enum": ["checkpoint", "result"]}, "default": ["checkpoint"]}
  },
  "additionalProperties": false
}`

const recallMemorySchema = `{
  "type": "object",
  "properties": {
    "q": {"type": "string", "minLength": 1, "maxLength": 2000, "description": "Text to search for (case-insensitive)"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}
  },
  "additionalProperties": false
}`

// runHistory passes {limit?, fields?} to GET /internal/run-history.
func (t *toolset) runHistory(ctx context.Context, raw json.RawMessage) (*mcp.CallToolResult, error) {
	var in struct {
		Limit  *int     `json:"limit"`
		Fields []string `json:"fields"`
	}
	if err := strictUnmarshal(raw, &in); err != nil {
		return failureResult("Invalid arguments: "+jsonErrorText(err), nil), nil
	}
	q := url.Values{}
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 50 {
			return failureResult("Invalid arguments: limit must be between 1 and 50", nil), nil
		}
		q.Set("limit", strconv.Itoa(*in.Limit))
	}
	if in.Fields != nil {
		for _, f := range in.Fields {
			if f != "checkpoint" && f != "result" {
				return failureResult(fmt.Sprintf("Invalid arguments: unknown field %q (use checkpoint, result)", f), nil), nil
			}
		}
		q.Set("fields", strings.Join(in.Fields, ","))
	}
	return t.platformTool(ctx, "run_history", "/internal/run-history", q), nil
}

// recallMemory passes {q?, limit?} to GET /internal/memories.
func (t *toolset) recallMemory(ctx context.Context, raw json.RawMessage) (*mcp.CallToolResult, error) {
	var in struct {
		Q     *string `json:"q"`
		Limit *int    `json:"limit"`
	}
	if err := strictUnmarshal(raw, &in); err != nil {
		return failureResult("Invalid arguments: "+jsonErrorText(err), nil), nil
	}
	q := url.Values{}
	if in.Q != nil {
		if n := len([]rune(*in.Q)); n < 1 || n > 2000 {
			return failureResult("Invalid arguments: q must be 1 to 2000 characters", nil), nil
		}
		q.Set("q", *in.Q)
	}
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 50 {
			return failureResult("Invalid arguments: limit must be between 1 and 50", nil), nil
		}
		q.Set("limit", strconv.Itoa(*in.Limit))
	}
	return t.platformTool(ctx, "recall_memory", "/internal/memories", q), nil
}

// platformTool GETs a platform route and returns its JSON through the token budget.
func (t *toolset) platformTool(ctx context.Context, tool, path string, q url.Values) *mcp.CallToolResult {
	ct, body, err := t.platform.getJSON(ctx, path, q)
	if err != nil {
		var pe *PlatformError
		msg := tool + ": upstream fetch failed"
		switch {
		case errors.As(err, &pe):
			msg = fmt.Sprintf("%s failed (%d): %s", tool, pe.Status, pe.Detail)
		case errors.Is(err, ErrNoPlatform):
			msg = tool + " is not available: " + err.Error()
		default:
			if code := errorCode(err); code != "" {
				msg += ": " + code
			}
			t.logger.Warn("platform call failed", "tool", tool, "error", scrubError(err))
		}
		return failureResult(msg, nil)
	}
	if ct == "" {
		ct = "application/json"
	}
	return t.result(output{label: tool, body: body, mimeType: ct,
		upstream: upstreamInfo{Status: 200, Headers: map[string]string{"content-type": ct}}})
}
