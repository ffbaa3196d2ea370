package llm

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// GeminiClient speaks the Gemini API's generateContent and streamGenerateContent (alt=sse). Tool schemas are
// sent as parametersJsonSchema (full JSON Schema). Gemini may not number its function calls: the client then
// makes up ids (prefixed "gencall_") and keeps them off the wire. Thought signatures ride on Part.Signature and
// are sent back.
type GeminiClient struct{ cfg Config }

// NewGemini returns a Gemini client.
func NewGemini(cfg Config) *GeminiClient { return &GeminiClient{cfg: cfg} }

// generatedCallPrefix marks tool-call ids made up by the client.
const generatedCallPrefix = "gencall_"

func (c *GeminiClient) url(model string, stream bool) string {
	model = strings.TrimPrefix(model, "models/")
	u := withVersion(c.cfg.base(DefaultGeminiBaseURL), "v1beta") + "/models/" + url.PathEscape(model)
	if stream {
		return u + ":streamGenerateContent?alt=sse"
	}
	return u + ":generateContent"
}

func (c *GeminiClient) headers() map[string]string {
	if c.cfg.APIKey == "" {
		return nil
	}
	return map[string]string{"x-goog-api-key": c.cfg.APIKey}
}

type gemFunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type gemFunctionResponse struct {
	ID       string         `json:"id,omitempty"`
	Name     string         `json:"name"`
	Response map[string]any `json:"response"`
}

type gemBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type gemPart struct {
	Text             string               `json:"text,omitempty"`
	Thought          bool                 `json:"thought,omitempty"`
	ThoughtSignature string               `json:"thoughtSignature,omitempty"`
	InlineData       *gemBlob             `json:"inlineData,omitempty"`
	FunctionCall     *gemFunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *gemFunctionResponse `json:"functionResponse,omitempty"`
}

type gemContent struct {
	Role  string    `json:"role,omitempty"`
	Parts []gemPart `json:"parts"`
}

func wireCallID(id string) string {
	if strings.HasPrefix(id, generatedCallPrefix) {
		return ""
	}
	return id
}

func (c *GeminiClient) body(req Request) map[string]any {
	contents := make([]gemContent, 0, len(req.Messages))
	for _, m := range req.Messages {
		gc := gemContent{Role: "user"}
		if m.Role == RoleAssistant {
			gc.Role = "model"
		}
		for _, p := range m.Parts {
			switch p.Type {
			case PartText:
				if p.Text != "" || p.Signature != "" {
					gc.Parts = append(gc.Parts, gemPart{Text: p.Text, ThoughtSignature: p.Signature})
				}
			case PartThinking:
				if m.Role == RoleAssistant && p.Signature != "" {
					gc.Parts = append(gc.Parts, gemPart{Text: p.Text, Thought: true, ThoughtSignature: p.Signature})
				}
			case PartImage:
				gc.Parts = append(gc.Parts, gemPart{InlineData: &gemBlob{MimeType: p.MediaType,
					Data: base64.StdEncoding.EncodeToString(p.Data)}})
			case PartToolCall:
				if tc := p.ToolCall; tc != nil {
					gc.Parts = append(gc.Parts, gemPart{ThoughtSignature: p.Signature,
						FunctionCall: &gemFunctionCall{ID: wireCallID(tc.ID), Name: tc.Name, Args: argsObject(tc.Arguments)}})
				}
			case PartToolResult:
				if tr := p.ToolResult; tr != nil {
					key := "output"
					if tr.IsError {
						key = "error"
					}
					gc.Parts = append(gc.Parts, gemPart{FunctionResponse: &gemFunctionResponse{ID: wireCallID(tr.CallID),
						Name: tr.Name, Response: map[string]any{key: tr.Content}}})
				}
			}
		}
		if len(gc.Parts) > 0 {
			contents = append(contents, gc)
		}
	}
	body := map[string]any{"contents": contents}
	if req.System != "" {
		body["systemInstruction"] = gemContent{Parts: []gemPart{{Text: req.System}}}
	}
	if len(req.Tools) > 0 {
		decls := make([]map[string]any, len(req.Tools))
		for i, t := range req.Tools {
			decls[i] = map[string]any{"name": t.Name, "parametersJsonSchema": schemaOrObject(t.InputSchema)}
			if t.Description != "" {
				decls[i]["description"] = t.Description
			}
		}
		body["tools"] = []map[string]any{{"functionDeclarations": decls}}
		fc := map[string]any{}
		switch req.ToolChoice {
		case "", ToolChoiceAuto:
		case ToolChoiceNone:
			fc["mode"] = "NONE"
		case ToolChoiceRequired:
			fc["mode"] = "ANY"
		default:
			fc["mode"] = "ANY"
			fc["allowedFunctionNames"] = []string{req.ToolChoice}
		}
		if len(fc) > 0 {
			body["toolConfig"] = map[string]any{"functionCallingConfig": fc}
		}
	}
	gen := map[string]any{}
	if req.MaxTokens > 0 {
		gen["maxOutputTokens"] = req.MaxTokens
	}
	if req.Temperature != nil {
		gen["temperature"] = *req.Temperature
	}
	if len(req.StopSequences) > 0 {
		gen["stopSequences"] = req.StopSequences
	}
	if len(gen) > 0 {
		body["generationConfig"] = gen
	}
	return body
}

type gemRespPart struct {
	Text             string           `json:"text"`
	Thought          bool             `json:"thought"`
	ThoughtSignature string           `json:"thoughtSignature"`
	FunctionCall     *gemFunctionCall `json:"functionCall"`
}

type gemResponse struct {
	Candidates []struct {
		Content struct {
			Parts []gemRespPart `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *geminiUsage    `json:"usageMetadata"`
	ModelVersion  string          `json:"modelVersion"`
	ResponseID    string          `json:"responseId"`
	Error         json.RawMessage `json:"error"`
}

func (r *gemResponse) finish() string {
	if len(r.Candidates) > 0 && r.Candidates[0].FinishReason != "" {
		return r.Candidates[0].FinishReason
	}
	if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		return r.PromptFeedback.BlockReason
	}
	return ""
}

func geminiStop(raw string, toolCalls bool) StopReason {
	if toolCalls {
		return StopToolUse
	}
	switch raw {
	case "STOP", "":
		return StopEndTurn
	case "MAX_TOKENS":
		return StopMaxTokens
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "OTHER_BLOCK_REASON":
		return StopContentFilter
	}
	return StopOther
}

func newCallID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return generatedCallPrefix + hex.EncodeToString(b[:])
}

func gemArgs(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "{}"
	}
	return string(raw)
}

// Complete implements Client.
func (c *GeminiClient) Complete(ctx context.Context, req Request) (*Response, error) {
	resp, err := c.cfg.post(ctx, c.url(req.Model, false), c.body(req), c.headers(), false)
	if err != nil {
		return nil, err
	}
	return c.decode(ctx, resp)
}

// decode reads a whole (non-streamed) response body.
func (c *GeminiClient) decode(ctx context.Context, resp *http.Response) (*Response, error) {
	var gr gemResponse
	if err := readJSON(ctx, resp, &gr); err != nil {
		return nil, err
	}
	if e := streamError(gr.Error); e != nil {
		return nil, e
	}
	msg := Message{Role: RoleAssistant}
	if len(gr.Candidates) > 0 {
		for _, p := range gr.Candidates[0].Content.Parts {
			switch {
			case p.FunctionCall != nil:
				id := p.FunctionCall.ID
				if id == "" {
					id = newCallID()
				}
				part := ToolCallPart(id, p.FunctionCall.Name, gemArgs(p.FunctionCall.Args))
				part.Signature = p.ThoughtSignature
				msg.Parts = append(msg.Parts, part)
			case p.Thought:
				msg.Parts = append(msg.Parts, Part{Type: PartThinking, Text: p.Text, Signature: p.ThoughtSignature})
			case p.Text != "" || p.ThoughtSignature != "":
				msg.Parts = append(msg.Parts, Part{Type: PartText, Text: p.Text, Signature: p.ThoughtSignature})
			}
		}
	}
	raw := gr.finish()
	return &Response{ID: gr.ResponseID, Model: gr.ModelVersion, Message: msg, RawStopReason: raw,
		StopReason: geminiStop(raw, hasToolCalls(msg)), Usage: gr.UsageMetadata.usage()}, nil
}

// Stream implements Client.
func (c *GeminiClient) Stream(ctx context.Context, req Request, fn func(Event) error) (*Response, error) {
	resp, err := c.cfg.post(ctx, c.url(req.Model, true), c.body(req), c.headers(), true)
	if err != nil {
		return nil, err
	}
	if isJSON(resp) {
		// The server ignored the stream flag (some compatible servers do): read the whole answer and replay it.
		out, err := c.decode(ctx, resp)
		if err != nil {
			return nil, err
		}
		if err := replay(out, fn); err != nil {
			return nil, err
		}
		return out, nil
	}
	asm := newAssembler(fn)
	out := &Response{}
	calls := 0
	finished := false
	_, err = streamSSE(ctx, resp, func(ev sseEvent) (bool, error) {
		var chunk gemResponse
		if err := decodeEvent(ev, &chunk); err != nil {
			return false, err
		}
		if e := streamError(chunk.Error); e != nil {
			return false, e
		}
		out.ID = firstNonEmpty(out.ID, chunk.ResponseID)
		out.Model = firstNonEmpty(out.Model, chunk.ModelVersion)
		if len(chunk.Candidates) > 0 {
			for _, p := range chunk.Candidates[0].Content.Parts {
				switch {
				case p.FunctionCall != nil:
					key := "call" + strconv.Itoa(calls)
					calls++
					id := p.FunctionCall.ID
					if id == "" {
						id = newCallID()
					}
					if err := asm.startCall(key, id, p.FunctionCall.Name); err != nil {
						return false, err
					}
					if p.ThoughtSignature != "" {
						asm.setSignature(key, p.ThoughtSignature)
					}
					if err := asm.callArgs(key, gemArgs(p.FunctionCall.Args)); err != nil {
						return false, err
					}
				case p.Thought:
					if err := asm.text("thought", PartThinking, p.Text); err != nil {
						return false, err
					}
					if p.ThoughtSignature != "" {
						asm.setSignature("thought", p.ThoughtSignature)
					}
				default:
					if err := asm.text("text", PartText, p.Text); err != nil {
						return false, err
					}
					if p.ThoughtSignature != "" {
						// A signature may come on a part without text: make sure the part exists, then set it.
						asm.signature("text", PartText, "")
						asm.setSignature("text", p.ThoughtSignature)
					}
				}
			}
		}
		if f := chunk.finish(); f != "" {
			out.RawStopReason, finished = f, true
		}
		if chunk.UsageMetadata != nil {
			out.Usage = chunk.UsageMetadata.usage()
			return false, asm.emit(Event{Type: EventUsage, Usage: out.Usage})
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if !finished {
		return nil, fmt.Errorf("%w (no finishReason)", ErrIncomplete)
	}
	out.Message = asm.message()
	out.StopReason = geminiStop(out.RawStopReason, hasToolCalls(out.Message))
	return out, nil
}
