package llm

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// count is a token count read tolerantly from provider JSON: any JSON number (integer, float, exponent) or a
// numeric string is accepted and clamped to [0, 2^53]; anything else reads as 0. A usage object is never the
// reason a response fails to decode, and never yields a negative number.
type count int64

const maxCount = 1 << 53

func (c *count) UnmarshalJSON(b []byte) error {
	*c = 0
	b = bytes.TrimSpace(b)
	if len(b) > 1 && b[0] == '"' {
		b = b[1 : len(b)-1]
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return nil
	}
	if f >= maxCount {
		*c = maxCount
		return nil
	}
	*c = count(f)
	return nil
}

// sub returns a-b, never negative.
func sub(a, b count) int64 { return clamp(int64(a) - int64(b)) }

// chatUsage is OpenAI Chat Completions' usage object (plus the cache fields some compatible servers add).
type chatUsage struct {
	PromptTokens        count `json:"prompt_tokens"`
	CompletionTokens    count `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens     count `json:"cached_tokens"`
		CacheWriteTokens count `json:"cache_write_tokens"`
	} `json:"prompt_tokens_details"`
	PromptCacheHitTokens count `json:"prompt_cache_hit_tokens"` // DeepSeek
}

func (u *chatUsage) usage() Usage {
	if u == nil {
		return Usage{}
	}
	var cached, written count
	if d := u.PromptTokensDetails; d != nil {
		cached, written = d.CachedTokens, d.CacheWriteTokens
	}
	if cached == 0 {
		cached = u.PromptCacheHitTokens
	}
	return Usage{
		InputTokens:      sub(sub2(u.PromptTokens, cached), written),
		OutputTokens:     int64(u.CompletionTokens),
		CacheReadTokens:  int64(min(cached, u.PromptTokens)),
		CacheWriteTokens: int64(written),
	}
}

// sub2 is sub returning a count.
func sub2(a, b count) count { return count(sub(a, b)) }

// responsesUsage is OpenAI Responses' usage object.
type responsesUsage struct {
	InputTokens        count `json:"input_tokens"`
	OutputTokens       count `json:"output_tokens"`
	InputTokensDetails *struct {
		CachedTokens count `json:"cached_tokens"`
	} `json:"input_tokens_details"`
}

func (u *responsesUsage) usage() Usage {
	if u == nil {
		return Usage{}
	}
	var cached count
	if u.InputTokensDetails != nil {
		cached = u.InputTokensDetails.CachedTokens
	}
	return Usage{
		InputTokens:     sub(u.InputTokens, cached),
		OutputTokens:    int64(u.OutputTokens),
		CacheReadTokens: int64(min(cached, u.InputTokens)),
	}
}

// anthropicUsage is Anthropic's usage object. Pointers tell "absent" from 0: message_delta repeats only some.
type anthropicUsage struct {
	InputTokens              *count `json:"input_tokens"`
	OutputTokens             *count `json:"output_tokens"`
	CacheCreationInputTokens *count `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *count `json:"cache_read_input_tokens"`
}

// apply overwrites u's categories with the ones present in a (Anthropic counts are cumulative).
func (a *anthropicUsage) apply(u Usage) Usage {
	if a == nil {
		return u
	}
	set := func(dst *int64, c *count) {
		if c != nil {
			*dst = int64(*c)
		}
	}
	set(&u.InputTokens, a.InputTokens)
	set(&u.OutputTokens, a.OutputTokens)
	set(&u.CacheWriteTokens, a.CacheCreationInputTokens)
	set(&u.CacheReadTokens, a.CacheReadInputTokens)
	return u
}

// geminiUsage is Gemini's usageMetadata.
type geminiUsage struct {
	PromptTokenCount        count `json:"promptTokenCount"`
	CandidatesTokenCount    count `json:"candidatesTokenCount"`
	CachedContentTokenCount count `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      count `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount count `json:"toolUsePromptTokenCount"`
}

func (u *geminiUsage) usage() Usage {
	if u == nil {
		return Usage{}
	}
	prompt := u.PromptTokenCount + u.ToolUsePromptTokenCount
	return Usage{
		InputTokens:     sub(prompt, u.CachedContentTokenCount),
		OutputTokens:    int64(min(u.CandidatesTokenCount+u.ThoughtsTokenCount, maxCount)),
		CacheReadTokens: int64(min(u.CachedContentTokenCount, prompt)),
	}
}

// rawJSONString decodes a JSON value that should be a string (content fields); null and non-strings read as "".
// An array of {type:"text", text} parts (some compatible servers) is concatenated.
func rawJSONString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err == nil {
		var b bytes.Buffer
		for _, p := range parts {
			if p.Type == "text" || p.Type == "output_text" || p.Type == "" {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	return ""
}
