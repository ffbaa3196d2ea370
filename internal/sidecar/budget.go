package sidecar

import (
	"sync"
	"unicode/utf8"
)

// Token-budget decisions and reasons reported in the "appstrate://token-budget" meta.
const (
	decisionInline = "inline"
	decisionSpill  = "spill"

	reasonWithinBudget  = "within_budget"
	reasonInlineCap     = "inline_cap"
	reasonContextWindow = "context_window"
	reasonRunBudget     = "run_budget"
	reasonBinary        = "binary"
	reasonStoreFull     = "blob_store_full"
)

// minReserveTokens is the smallest context-window reserve kept for the model's own answer.
const minReserveTokens = 16384

// tokenBudget decides whether a tool output is inlined into the conversation or spilled into the blob store,
// and counts what was inlined over the run (RUNTIME.md §3.4).
type tokenBudget struct {
	inlineCap int
	runBudget int
	window    int
	reserve   int

	mu       sync.Mutex
	consumed int
}

func newTokenBudget(cfg Config) *tokenBudget {
	reserve := max(minReserveTokens, cfg.ContextWindow/5)
	if cfg.MaxTokens > 0 {
		reserve = cfg.MaxTokens
	}
	return &tokenBudget{inlineCap: cfg.InlineToolOutputTokens, runBudget: cfg.RunToolOutputBudget,
		window: cfg.ContextWindow, reserve: reserve}
}

// estimateTokens is ceil(characters / 3.5).
func estimateTokens(text string) int {
	chars := utf8.RuneCountInString(text)
	return (chars*2 + 6) / 7
}

// budgetVerdict is one decision, as reported in the meta.
type budgetVerdict struct {
	EstimatedTokens int    `json:"estimatedTokens"`
	ConsumedTokens  int    `json:"consumedTokens"`
	RunBudgetTokens int    `json:"runBudgetTokens"`
	InlineCapTokens int    `json:"inlineCapTokens"`
	Decision        string `json:"decision"`
	Reason          string `json:"reason"`
}

// decide returns the verdict for a text of estimated tokens. An inline verdict is not yet counted: call
// commit once the text is really inlined.
func (b *tokenBudget) decide(estimated int) budgetVerdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := budgetVerdict{EstimatedTokens: estimated, ConsumedTokens: b.consumed, RunBudgetTokens: b.runBudget,
		InlineCapTokens: b.inlineCap, Decision: decisionSpill}
	switch {
	case estimated > b.inlineCap:
		v.Reason = reasonInlineCap
	case b.consumed+estimated > b.window-b.reserve:
		v.Reason = reasonContextWindow
	case b.consumed+estimated > b.runBudget:
		v.Reason = reasonRunBudget
	default:
		v.Decision, v.Reason = decisionInline, reasonWithinBudget
	}
	return v
}

// commit counts an inlined text and returns the verdict updated with the new total.
func (b *tokenBudget) commit(v budgetVerdict) budgetVerdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.consumed += v.EstimatedTokens
	v.ConsumedTokens = b.consumed
	v.Decision = decisionInline
	return v
}
