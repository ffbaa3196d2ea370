package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
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

// ConnectSidecar connects to the sidecar's MCP endpoint (SidecarURL + "/mcp"), retrying with full-jitter
// backoff until timeout, and returns the tools the model gets from it: run_history and recall_memory, plus
// provider_call (its providerId restricted to providers) when providers is not empty. A sidecar that lacks one
// of them is an error.
func ConnectSidecar(ctx context.Context, sidecarURL, token string, httpClient *http.Client, providers []string, timeout time.Duration) ([]Tool, error) {
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
	var tools []Tool
	var missing []string
	for _, name := range wanted {
		t, ok := byName[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		schema := t.InputSchema
		if name == ToolProviderCall {
			schema = restrictProviderIDs(schema, providers)
		}
		tools = append(tools, mcpTool(client, t.Name, t.Description, schema))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sidecar MCP server lacks the tool(s) %s", strings.Join(missing, ", "))
	}
	return tools, nil
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
