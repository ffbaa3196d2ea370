package sidecar

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/mcp"
)

// Meta keys of tool results (RUNTIME.md §3.4).
const (
	metaUpstream    = "appstrate/upstream"
	metaTokenBudget = "appstrate://token-budget"
)

// upstreamHeaderPrefixes and upstreamHeaders are the provider response headers reported in the meta.
var (
	upstreamHeaderPrefixes = []string{"content-", "upload-", "tus-", "x-amz-", "x-goog-", "x-ratelimit-"}
	upstreamHeaders        = map[string]bool{"accept-ranges": true, "cache-control": true, "etag": true,
		"last-modified": true, "expires": true, "vary": true, "retry-after": true, "link": true, "location": true, "range": true}
)

// upstreamInfo is the "appstrate/upstream" meta of a tool result.
type upstreamInfo struct {
	Status   int               `json:"status"`
	Headers  map[string]string `json:"headers"`
	FinalURL string            `json:"finalUrl,omitempty"`
}

func allowedUpstreamHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for name, values := range h {
		lower := strings.ToLower(name)
		ok := upstreamHeaders[lower]
		for _, p := range upstreamHeaderPrefixes {
			ok = ok || strings.HasPrefix(lower, p)
		}
		if ok {
			out[lower] = strings.Join(values, ", ")
		}
	}
	return out
}

// failureResult is a tool failure that never reached (or never got an answer from) the upstream.
func failureResult(msg string, structured map[string]any) *mcp.CallToolResult {
	res := mcp.ErrorResult(msg)
	res.StructuredContent = structured
	res.Meta = map[string]any{metaUpstream: upstreamInfo{Status: 0, Headers: map[string]string{}}}
	return res
}

// output is one upstream answer to turn into a tool result.
type output struct {
	label     string // resource name, e.g. "provider:@appstrate/gmail"
	body      []byte
	truncated int64 // > 0: the body was cut at this many bytes
	mimeType  string
	isError   bool
	upstream  upstreamInfo
}

// result applies the token budget: text within budget is inlined, anything else spilled into the blob store
// as a resource_link (text is inlined anyway when the store is full; binary then fails).
func (t *toolset) result(o output) *mcp.CallToolResult {
	res := &mcp.CallToolResult{IsError: o.isError, Meta: map[string]any{metaUpstream: o.upstream}}
	text, isText := textOf(o)
	if !isText {
		uri, ok := t.blobs.put(o.body, o.mimeType)
		if !ok {
			return failureResultWith(res, fmt.Sprintf("Response of %d bytes (%s) could not be stored: the run's blob store is full", len(o.body), o.mimeType))
		}
		res.Meta[metaTokenBudget] = budgetVerdict{ConsumedTokens: t.budget.consumedTokens(), RunBudgetTokens: t.budget.runBudget,
			InlineCapTokens: t.budget.inlineCap, Decision: decisionSpill, Reason: reasonBinary}
		res.Content = spilledContent(uri, o, len(o.body))
		return res
	}
	verdict := t.budget.decide(estimateTokens(text))
	if verdict.Decision == decisionSpill {
		if uri, ok := t.blobs.put(o.body, o.mimeType); ok {
			res.Meta[metaTokenBudget] = verdict
			res.Content = spilledContent(uri, o, len(o.body))
			return res
		}
		verdict.Reason = reasonStoreFull
	}
	res.Meta[metaTokenBudget] = t.budget.commit(verdict)
	res.Content = []mcp.Content{mcp.TextContent(text)}
	return res
}

func failureResultWith(res *mcp.CallToolResult, msg string) *mcp.CallToolResult {
	res.IsError = true
	res.Content = []mcp.Content{mcp.TextContent(msg)}
	return res
}

// textOf returns the inline text of a text-like body (with a truncation note), and whether it is text at all.
// A body without a content type counts as text when it is valid UTF-8.
func textOf(o output) (string, bool) {
	if o.mimeType == "" {
		if !utf8.Valid(o.body) {
			return "", false
		}
	} else if !isTextLike(o.mimeType) {
		return "", false
	}
	text := strings.ToValidUTF8(string(o.body), "\uFFFD")
	if o.truncated > 0 {
		text += fmt.Sprintf("\n[truncated: response exceeded %d bytes]", o.truncated)
	}
	return text, true
}

func spilledContent(uri string, o output, size int) []mcp.Content {
	mt := o.mimeType
	if mt == "" {
		mt = "application/octet-stream"
	}
	note := fmt.Sprintf("The response (%d bytes, %s, HTTP %d) is too large to show inline; it is stored as %s — read it with resources/read.",
		size, mt, o.upstream.Status, uri)
	return []mcp.Content{mcp.TextContent(note), mcp.ResourceLinkContent(uri, o.label, mt)}
}

// consumedTokens is the run's inlined total so far.
func (b *tokenBudget) consumedTokens() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.consumed
}
