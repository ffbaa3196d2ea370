package sidecar

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
)

// sniffLimit is how much of a request body the model sniffer keeps.
const sniffLimit = 64 << 10

// modelSniffer keeps the head of an LLM request body as it streams upstream, to read its "model" field
// afterwards. Safe for concurrent use (the transport writes while the handler may read).
type modelSniffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *modelSniffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if room := sniffLimit - s.buf.Len(); room > 0 {
		s.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// model returns the request's model: Gemini names it in the path (…/models/{model}:generateContent), the
// other APIs in a top-level "model" field. "" when it is not within the sniffed head.
func (s *modelSniffer) model(path string) string {
	if m := modelFromPath(path); m != "" {
		return m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return modelFromJSONHead(s.buf.Bytes())
}

func modelFromPath(path string) string {
	_, rest, ok := strings.Cut(path, "/models/")
	if !ok {
		return ""
	}
	model, _, ok := strings.Cut(rest, ":")
	if !ok || model == "" || strings.Contains(model, "/") {
		return ""
	}
	return model
}

// modelFromJSONHead walks the top-level members of a (possibly truncated) JSON object and returns the value
// of "model" when it is a string; other members are skipped without being decoded.
func modelFromJSONHead(head []byte) string {
	dec := json.NewDecoder(bytes.NewReader(head))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		name, _ := key.(string)
		if name == "model" {
			v, err := dec.Token()
			if s, ok := v.(string); ok && err == nil {
				return s
			}
			return ""
		}
		if err := skipValue(dec); err != nil {
			return ""
		}
	}
	return ""
}

// skipValue consumes one JSON value token by token.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
