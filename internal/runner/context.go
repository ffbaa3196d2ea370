package runner

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/llm"
)

// Context budget (MODEL_CONTEXT_WINDOW): the conversation is measured in estimated tokens — characters / 3.5,
// as the sidecar estimates — and old tool results are shortened when it comes near the window minus the
// tokens reserved for the answer (MODEL_MAX_TOKENS).
const (
	charsPerToken = 3.5
	// imageTokens is the estimate of one image.
	imageTokens = 1600
	// contextFillPercent of the budget is where shortening starts, leaving room for the estimate's error.
	contextFillPercent = 90
	// keptResultBytes is the head a shortened tool result keeps; shorter results are left alone.
	keptResultBytes = 1024
	// minCutBytes: a result is shortened only when that removes at least this much.
	minCutBytes = 256
)

// estimateTokens is the estimated size of a request: its system prompt, messages and tool declarations.
func estimateTokens(req llm.Request) int {
	chars, images := len(req.System), 0
	for _, m := range req.Messages {
		for _, p := range m.Parts {
			switch {
			case p.Type == llm.PartImage:
				images++
			case p.ToolCall != nil:
				chars += len(p.ToolCall.Name) + len(p.ToolCall.Arguments)
			case p.ToolResult != nil:
				chars += len(p.ToolResult.Content)
			default:
				chars += len(p.Text)
			}
		}
	}
	for _, t := range req.Tools {
		chars += len(t.Name) + len(t.Description) + len(t.InputSchema)
	}
	return tokensOf(chars) + images*imageTokens
}

func tokensOf(chars int) int { return int(math.Ceil(float64(chars) / charsPerToken)) }

// fitContext shortens tool results when the estimated size of req exceeds contextFillPercent of window −
// maxTokens: oldest first, the results of the last message only if that is not enough; each keeps its first
// keptResultBytes and says how much was cut. It returns how many results it shortened (window ≤ 0: none).
func fitContext(req *llm.Request, window, maxTokens int) int {
	budget := window - max(maxTokens, 0)
	if window <= 0 || budget <= 0 {
		return 0
	}
	limit := budget * contextFillPercent / 100
	estimate := estimateTokens(*req)
	shortened := 0
	last := len(req.Messages) - 1
	for _, latest := range []bool{false, true} {
		for i := range req.Messages {
			if (i == last) != latest {
				continue
			}
			for _, p := range req.Messages[i].Parts {
				if estimate <= limit {
					return shortened
				}
				if p.ToolResult == nil {
					continue
				}
				cut, ok := shortenResult(p.ToolResult.Content)
				if !ok {
					continue
				}
				estimate -= tokensOf(len(p.ToolResult.Content)) - tokensOf(len(cut))
				p.ToolResult.Content = cut
				shortened++
			}
		}
	}
	return shortened
}

// shortenResult keeps the head of a tool result with a note of the cut; false when it is short already.
func shortenResult(content string) (string, bool) {
	if len(content) < keptResultBytes+minCutBytes {
		return content, false
	}
	cut := keptResultBytes
	for cut > 0 && !utf8.RuneStart(content[cut]) {
		cut--
	}
	head := content[:cut]
	return head + fmt.Sprintf("\n[… %d more bytes of this tool result were cut to fit the model's context window; run the tool again for the rest]",
		len(content)-len(head)), true
}
