package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/mcp"
)

// Sidecar MCP tool names.
const (
	ToolProviderCall = "provider_call"
	ToolRunHistory   = "run_history"
	ToolRecallMemory = "recall_memory"
)

// SidecarTokenHeader carries SIDECAR_TOKEN on /llm and /mcp requests.
const SidecarTokenHeader = "X-Sidecar-Token"

// MCP connection backoff (full jitter).
const (
	mcpBackoffBase = 50 * time.Millisecond
	mcpBackoffCap  = time.Second
)

// Sidecar is the run's session with its sidecar's MCP server: the tools it lends the model, and the tool
// context (provider calls, resources) of the tool packages.
type Sidecar struct {
	client    *mcp.Client
	providers []string
	tools     []mcp.Tool // provider_call (with providers), run_history, recall_memory
}

// ConnectSidecar connects to the sidecar's MCP endpoint (SidecarURL + "/mcp"), retrying with full-jitter
// backoff until timeout, and checks that it offers run_history and recall_memory, plus provider_call when
// providers (the connected providers) is not empty. A sidecar that lacks one of them is an error.
func ConnectSidecar(ctx context.Context, sidecarURL, token string, httpClient *http.Client, providers []string, timeout time.Duration) (*Sidecar, error) {
	header := http.Header{}
	if token != "" {
		header.Set(SidecarTokenHeader, token)
	}
	client := mcp.NewClient(strings.TrimRight(sidecarURL, "/")+"/mcp", httpClient, header)
	if timeout <= 0 {
		timeout = DefaultMCPConnectTimeout
	}
	list, err := connectMCP(ctx, client, timeout)
	if err != nil {
		return nil, err
	}
	wanted := []string{ToolRunHistory, ToolRecallMemory}
	if len(providers) > 0 {
		wanted = append([]string{ToolProviderCall}, wanted...)
	}
	byName := map[string]mcp.Tool{}
	for _, t := range list {
		byName[t.Name] = t
	}
	s := &Sidecar{client: client, providers: slices.Clone(providers)}
	var missing []string
	for _, name := range wanted {
		t, ok := byName[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		s.tools = append(s.tools, t)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sidecar MCP server lacks the tool(s) %s", strings.Join(missing, ", "))
	}
	return s, nil
}

// Tools are the sidecar's tools for the model, in the order provider_call, run_history, recall_memory.
// run_history and recall_memory are forwarded as is. provider_call takes the runner-side arguments (RUNTIME.md
// §4.4: the sidecar's, plus bodies and parts read from workspace files and responseMode) with its providerId
// restricted to the connected providers, and answers {status, headers, body}, large and binary bodies saved in
// ws under responses/.
func (s *Sidecar) Tools(ws *Workspace) []Tool {
	tools := make([]Tool, 0, len(s.tools))
	for _, t := range s.tools {
		if t.Name == ToolProviderCall {
			tools = append(tools, s.providerCallTool(ws))
			continue
		}
		tools = append(tools, mcpTool(s.client, t.Name, t.Description, t.InputSchema))
	}
	return tools
}

// connectMCP initializes the session and lists the tools, retrying every failure until the deadline.
func connectMCP(ctx context.Context, client *mcp.Client, timeout time.Duration) ([]mcp.Tool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for attempt := 0; ; attempt++ {
		_, err := client.Initialize(ctx)
		if err == nil {
			var tools []mcp.Tool
			if tools, err = client.ListTools(ctx); err == nil {
				return tools, nil
			}
		}
		lastErr = err
		// Full jitter: a uniform wait in [0, min(cap, base·2^attempt)].
		ceiling := mcpBackoffBase << min(attempt, 10)
		ceiling = min(ceiling, mcpBackoffCap)
		t := time.NewTimer(rand.N(ceiling + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("connect to the sidecar MCP server (gave up after %s): %w", timeout, errors.Join(lastErr, context.Cause(ctx)))
		case <-t.C:
		}
	}
}

// restrictProviderIDs sets providerId's enum to the connected providers in provider_call's schema.
func restrictProviderIDs(schema json.RawMessage, providers []string) json.RawMessage {
	var obj map[string]any
	if err := json.Unmarshal(schema, &obj); err != nil || obj == nil {
		obj = map[string]any{"type": "object"}
	}
	props, _ := obj["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		obj["properties"] = props
	}
	prop, _ := props["providerId"].(map[string]any)
	if prop == nil {
		prop = map[string]any{"type": "string"}
	}
	delete(prop, "pattern")
	prop["enum"] = providers
	props["providerId"] = prop
	b, err := json.Marshal(obj)
	if err != nil {
		return schema
	}
	return b
}

// mcpTool forwards calls to a sidecar tool.
func mcpTool(client *mcp.Client, name, description string, schema json.RawMessage) Tool {
	return Tool{
		Name:        name,
		Description: description,
		Schema:      schema,
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var args map[string]json.RawMessage
			if err := decodeArgs(raw, &args); err != nil {
				return "", err
			}
			if args == nil {
				args = map[string]json.RawMessage{}
			}
			res, err := client.CallTool(ctx, name, args)
			if err != nil {
				return "", fmt.Errorf("%s failed: %v", name, err)
			}
			text := renderMCPContent(res.Content)
			if res.IsError {
				if text == "" {
					text = name + " failed"
				}
				return "", &ToolError{Message: text}
			}
			return text, nil
		},
	}
}

// renderMCPContent turns MCP content blocks into the text the model sees; resource links become
// "[resource <uri> (name)]".
func renderMCPContent(blocks []mcp.Content) string {
	parts := make([]string, 0, len(blocks))
	for _, c := range blocks {
		switch c.Type {
		case mcp.ContentText:
			parts = append(parts, c.Text)
		case mcp.ContentResourceLink:
			parts = append(parts, fmt.Sprintf("[resource %s (%s)]", c.URI, c.Name))
		default:
			parts = append(parts, fmt.Sprintf("[%s content]", c.Type))
		}
	}
	return strings.Join(parts, "\n")
}
