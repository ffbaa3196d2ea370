package llmtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// route decides the API of a path; model and stream are read from Gemini paths.
func route(path string) (api, model string, stream bool, ok bool) {
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return OpenAIChat, "", false, true
	case strings.HasSuffix(path, "/responses"):
		return OpenAIResponses, "", false, true
	case strings.HasSuffix(path, "/messages"):
		return Anthropic, "", false, true
	}
	i := strings.LastIndex(path, "/models/")
	if i < 0 {
		return "", "", false, false
	}
	rest := path[i+len("/models/"):]
	j := strings.LastIndexByte(rest, ':')
	if j <= 0 {
		return "", "", false, false
	}
	switch rest[j+1:] {
	case "generateContent":
		return Gemini, rest[:j], false, true
	case "streamGenerateContent":
		return Gemini, rest[:j], true, true
	}
	return "", "", false, false
}

// errBadRequest is a request the real API would refuse with 400.
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

func badRequest(format string, args ...any) error { return errBadRequest{fmt.Sprintf(format, args...)} }

// decode fills r's conversation fields from its body.
func decode(r *Request) error {
	var err error
	switch r.API {
	case OpenAIChat:
		err = decodeChat(r)
	case OpenAIResponses:
		err = decodeResponses(r)
	case Anthropic:
		err = decodeAnthropic(r)
	case Gemini:
		err = decodeGemini(r)
	}
	if err != nil {
		var br errBadRequest
		if errors.As(err, &br) {
			return err
		}
		return badRequest("invalid JSON body: %v", err)
	}
	return checkToolLinks(r.Messages)
}

// textOf reads content that is a string or an array of {type, text} parts; images are counted.
func textOf(raw json.RawMessage, images *int) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var texts []string
	for _, p := range parts {
		switch p.Type {
		case "text", "input_text", "output_text":
			texts = append(texts, p.Text)
		case "image_url", "input_image", "image":
			if images != nil {
				*images++
			}
		}
	}
	return strings.Join(texts, "\n")
}

func decodeChat(r *Request) error {
	var body struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		} `json:"tools"`
		MaxTokens           int `json:"max_tokens"`
		MaxCompletionTokens int `json:"max_completion_tokens"`
		StreamOptions       *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return err
	}
	if body.Model == "" || len(body.Messages) == 0 {
		return badRequest("model and messages are required")
	}
	r.Model, r.Stream = body.Model, body.Stream
	r.MaxTokens = max(body.MaxTokens, body.MaxCompletionTokens)
	r.includeUsage = body.StreamOptions != nil && body.StreamOptions.IncludeUsage
	for _, t := range body.Tools {
		r.Tools = append(r.Tools, t.Function.Name)
	}
	for _, m := range body.Messages {
		switch m.Role {
		case "system", "developer":
			r.System = joinText(r.System, textOf(m.Content, nil))
		case "tool":
			tr := ToolResult{CallID: m.ToolCallID, Content: textOf(m.Content, nil)}
			if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == "user" && len(r.Messages[n-1].ToolResults) > 0 {
				r.Messages[n-1].ToolResults = append(r.Messages[n-1].ToolResults, tr)
			} else {
				r.Messages = append(r.Messages, Message{Role: "user", ToolResults: []ToolResult{tr}})
			}
		case "assistant":
			msg := Message{Role: "assistant", Text: textOf(m.Content, nil)}
			for _, tc := range m.ToolCalls {
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Args: tc.Function.Arguments})
			}
			r.Messages = append(r.Messages, msg)
		case "user":
			msg := Message{Role: "user"}
			msg.Text = textOf(m.Content, &msg.Images)
			r.Messages = append(r.Messages, msg)
		default:
			return badRequest("unknown role %q", m.Role)
		}
	}
	return nil
}

func decodeResponses(r *Request) error {
	var body struct {
		Model           string          `json:"model"`
		Stream          bool            `json:"stream"`
		Instructions    string          `json:"instructions"`
		Input           json.RawMessage `json:"input"`
		MaxOutputTokens int             `json:"max_output_tokens"`
		Tools           []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return err
	}
	if body.Model == "" || len(body.Input) == 0 {
		return badRequest("model and input are required")
	}
	r.Model, r.Stream, r.System, r.MaxTokens = body.Model, body.Stream, body.Instructions, body.MaxOutputTokens
	for _, t := range body.Tools {
		r.Tools = append(r.Tools, t.Name)
	}
	var s string
	if json.Unmarshal(body.Input, &s) == nil {
		r.Messages = []Message{{Role: "user", Text: s}}
		return nil
	}
	var items []struct {
		Type      string          `json:"type"`
		Role      string          `json:"role"`
		Content   json.RawMessage `json:"content"`
		CallID    string          `json:"call_id"`
		Name      string          `json:"name"`
		Arguments string          `json:"arguments"`
		Output    json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(body.Input, &items); err != nil {
		return err
	}
	last := func(role string) *Message {
		if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == role {
			return &r.Messages[n-1]
		}
		r.Messages = append(r.Messages, Message{Role: role})
		return &r.Messages[len(r.Messages)-1]
	}
	for _, it := range items {
		switch {
		case it.Type == "function_call":
			m := last("assistant")
			m.ToolCalls = append(m.ToolCalls, ToolCall{ID: it.CallID, Name: it.Name, Args: it.Arguments})
		case it.Type == "function_call_output":
			m := last("user")
			m.ToolResults = append(m.ToolResults, ToolResult{CallID: it.CallID, Content: textOf(it.Output, nil)})
		case it.Type == "reasoning":
		case it.Type == "message" || it.Type == "":
			switch it.Role {
			case "system", "developer":
				r.System = joinText(r.System, textOf(it.Content, nil))
			case "assistant":
				m := last("assistant")
				m.Text = joinText(m.Text, textOf(it.Content, nil))
			case "user":
				m := Message{Role: "user"}
				m.Text = textOf(it.Content, &m.Images)
				r.Messages = append(r.Messages, m)
			default:
				return badRequest("unknown role %q", it.Role)
			}
		default:
			return badRequest("unknown input item type %q", it.Type)
		}
	}
	return nil
}

func decodeAnthropic(r *Request) error {
	var body struct {
		Model     string          `json:"model"`
		Stream    bool            `json:"stream"`
		MaxTokens int             `json:"max_tokens"`
		System    json.RawMessage `json:"system"`
		Messages  []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return err
	}
	if body.Model == "" || len(body.Messages) == 0 || body.MaxTokens <= 0 {
		return badRequest("model, messages and max_tokens are required")
	}
	if r.Header.Get("anthropic-version") == "" {
		return badRequest("anthropic-version header is required")
	}
	r.Model, r.Stream, r.MaxTokens, r.System = body.Model, body.Stream, body.MaxTokens, textOf(body.System, nil)
	for _, t := range body.Tools {
		r.Tools = append(r.Tools, t.Name)
	}
	for _, m := range body.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return badRequest("unknown role %q", m.Role)
		}
		msg := Message{Role: m.Role}
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			msg.Text = s
			r.Messages = append(r.Messages, msg)
			continue
		}
		var blocks []struct {
			Type      string          `json:"type"`
			Text      string          `json:"text"`
			Thinking  string          `json:"thinking"`
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
			ToolUseID string          `json:"tool_use_id"`
			Content   json.RawMessage `json:"content"`
			IsError   bool            `json:"is_error"`
		}
		if err := json.Unmarshal(m.Content, &blocks); err != nil {
			return err
		}
		if len(blocks) == 0 {
			return badRequest("messages: content must not be empty")
		}
		for _, b := range blocks {
			switch b.Type {
			case "text":
				msg.Text = joinText(msg.Text, b.Text)
			case "thinking":
				msg.Thinking += b.Thinking
			case "image":
				msg.Images++
			case "tool_use":
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: b.ID, Name: b.Name, Args: string(b.Input)})
			case "tool_result":
				msg.ToolResults = append(msg.ToolResults, ToolResult{CallID: b.ToolUseID, Content: textOf(b.Content, nil), IsError: b.IsError})
			case "redacted_thinking":
			default:
				return badRequest("unknown content block type %q", b.Type)
			}
		}
		r.Messages = append(r.Messages, msg)
	}
	if r.Messages[0].Role != "user" {
		return badRequest("messages: first message must use the user role")
	}
	return nil
}

func decodeGemini(r *Request) error {
	type part struct {
		Text         string    `json:"text"`
		Thought      bool      `json:"thought"`
		InlineData   *struct{} `json:"inlineData"`
		FunctionCall *struct {
			ID   string          `json:"id"`
			Name string          `json:"name"`
			Args json.RawMessage `json:"args"`
		} `json:"functionCall"`
		FunctionResponse *struct {
			ID       string                     `json:"id"`
			Name     string                     `json:"name"`
			Response map[string]json.RawMessage `json:"response"`
		} `json:"functionResponse"`
	}
	var body struct {
		SystemInstruction *struct {
			Parts []part `json:"parts"`
		} `json:"systemInstruction"`
		Contents []struct {
			Role  string `json:"role"`
			Parts []part `json:"parts"`
		} `json:"contents"`
		Tools []struct {
			FunctionDeclarations []struct {
				Name string `json:"name"`
			} `json:"functionDeclarations"`
		} `json:"tools"`
		GenerationConfig *struct {
			MaxOutputTokens int `json:"maxOutputTokens"`
		} `json:"generationConfig"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return err
	}
	if len(body.Contents) == 0 {
		return badRequest("contents is required")
	}
	if body.SystemInstruction != nil {
		for _, p := range body.SystemInstruction.Parts {
			r.System = joinText(r.System, p.Text)
		}
	}
	if body.GenerationConfig != nil {
		r.MaxTokens = body.GenerationConfig.MaxOutputTokens
	}
	for _, t := range body.Tools {
		for _, d := range t.FunctionDeclarations {
			r.Tools = append(r.Tools, d.Name)
		}
	}
	for _, c := range body.Contents {
		msg := Message{Role: "user"}
		switch c.Role {
		case "model":
			msg.Role = "assistant"
		case "user", "function", "":
		default:
			return badRequest("unknown role %q", c.Role)
		}
		if len(c.Parts) == 0 {
			return badRequest("contents: parts must not be empty")
		}
		for _, p := range c.Parts {
			switch {
			case p.FunctionCall != nil:
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: p.FunctionCall.ID, Name: p.FunctionCall.Name, Args: string(p.FunctionCall.Args)})
			case p.FunctionResponse != nil:
				tr := ToolResult{CallID: p.FunctionResponse.ID, Name: p.FunctionResponse.Name}
				if v, ok := p.FunctionResponse.Response["error"]; ok {
					tr.IsError, tr.Content = true, textOf(v, nil)
				} else if v, ok := p.FunctionResponse.Response["output"]; ok {
					tr.Content = textOf(v, nil)
				} else {
					b, _ := json.Marshal(p.FunctionResponse.Response)
					tr.Content = string(b)
				}
				msg.ToolResults = append(msg.ToolResults, tr)
			case p.InlineData != nil:
				msg.Images++
			case p.Thought:
				msg.Thinking += p.Text
			default:
				msg.Text = joinText(msg.Text, p.Text)
			}
		}
		r.Messages = append(r.Messages, msg)
	}
	return nil
}

func joinText(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n" + b
}

// checkToolLinks refuses what the real APIs refuse: a tool result that answers no tool call of the assistant
// turn before it, and a tool call left unanswered when the conversation goes on.
func checkToolLinks(msgs []Message) error {
	var pending []ToolCall // calls of the last assistant turn
	answered := map[int]bool{}
	for i, m := range msgs {
		if m.Role == "assistant" {
			if i > 0 && msgs[i-1].Role == "assistant" {
				pending = append(pending, m.ToolCalls...)
				continue
			}
			if err := unanswered(pending, answered); err != nil {
				return err
			}
			pending, answered = append([]ToolCall(nil), m.ToolCalls...), map[int]bool{}
			continue
		}
		for _, tr := range m.ToolResults {
			k := -1
			for j, tc := range pending {
				if answered[j] {
					continue
				}
				if (tr.CallID != "" && tc.ID == tr.CallID) || (tr.CallID == "" && tc.Name == tr.Name) ||
					(tc.ID == "" && tr.CallID == "" && tr.Name == "") {
					k = j
					break
				}
			}
			if k < 0 {
				return badRequest("tool result %q answers no tool call of the previous assistant turn", tr.CallID+tr.Name)
			}
			answered[k] = true
		}
		if m.Text != "" || m.Images > 0 {
			// A user turn with more than tool results: every call must have been answered by now.
			if err := unanswered(pending, answered); err != nil {
				return err
			}
			pending = nil
		}
	}
	return nil
}

func unanswered(pending []ToolCall, answered map[int]bool) error {
	for j, tc := range pending {
		if !answered[j] {
			return badRequest("tool call %q (%s) has no tool result", tc.ID, tc.Name)
		}
	}
	return nil
}
