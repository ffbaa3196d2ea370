package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"
)

// Meter observes a response body of one of the four APIs as it passes through (a reverse proxy tees the bytes
// into it) and reports the token usage it carried. It understands streamed bodies (server-sent events, and
// Gemini's JSON-array stream) and whole JSON bodies, telling them apart by the Content-Type when given
// (SetContentType) or else by the first byte. It never fails the copy: Write always accepts everything, and
// events it cannot read are skipped. Usage is available at any time (what was seen so far: a stream cut short
// still reports its input tokens); Complete tells whether the final event arrived. Safe for concurrent use.
type Meter struct {
	api API

	mu       sync.Mutex
	mode     meterMode
	sse      *sseParser
	buf      bytes.Buffer // JSON mode: the body so far
	tooBig   bool
	usage    Usage
	complete bool
	skipped  int // events that could not be decoded
	closed   bool
}

type meterMode int

const (
	modeUnknown meterMode = iota
	modeSSE
	modeJSON
)

// NewMeter returns a meter for the given API shape (see ParseAPI).
func NewMeter(api string) (*Meter, error) {
	a, err := ParseAPI(api)
	if err != nil {
		return nil, err
	}
	return &Meter{api: a}, nil
}

// SetContentType fixes how the body is read from the response's Content-Type (text/event-stream, or a JSON
// type). Call it before the first Write; other types leave the choice to the first byte.
func (m *Meter) SetContentType(ct string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode != modeUnknown {
		return
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return
	}
	switch {
	case mt == "text/event-stream":
		m.mode, m.sse = modeSSE, newSSEParser()
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		m.mode = modeJSON
	}
}

// Write observes the next bytes of the body. It never returns an error.
func (m *Meter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return len(p), nil
	}
	b := p
	if m.mode == modeUnknown {
		t := bytes.TrimLeft(b, " \t\r\n")
		if len(t) == 0 {
			return len(p), nil // only whitespace so far
		}
		if t[0] == '{' || t[0] == '[' {
			m.mode = modeJSON
		} else {
			m.mode, m.sse = modeSSE, newSSEParser()
		}
		b = t
	}
	switch m.mode {
	case modeSSE:
		_ = m.sse.feed(b, m.observeEvent)
	case modeJSON:
		if m.tooBig {
			break
		}
		if m.buf.Len()+len(b) > maxResponseBody {
			m.tooBig = true
			m.buf = bytes.Buffer{}
			break
		}
		m.buf.Write(b)
	}
	return len(p), nil
}

// Close ends the body: a last event without its blank line is taken into account and a JSON body is read.
// Later writes are ignored. Close is idempotent and never fails.
func (m *Meter) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	switch m.mode {
	case modeSSE:
		_ = m.sse.close(m.observeEvent)
		m.skipped += m.sse.dropped
	case modeJSON:
		m.parseJSON()
	}
	return nil
}

// Usage reports the usage seen so far (after Close, the final usage).
func (m *Meter) Usage() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode == modeJSON && !m.closed && !m.complete {
		m.parseJSON()
	}
	return m.usage
}

// Complete reports whether the body reached its end as the API defines it (the final event of a stream, or a
// whole JSON body).
func (m *Meter) Complete() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode == modeJSON && !m.closed && !m.complete {
		m.parseJSON()
	}
	return m.complete
}

// Skipped counts the events or bodies that could not be read.
func (m *Meter) Skipped() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.skipped
}

// Wrap returns rc with every byte read from it observed by m; closing it closes rc and m.
func (m *Meter) Wrap(rc io.ReadCloser) io.ReadCloser { return &meteredBody{rc: rc, m: m} }

type meteredBody struct {
	rc io.ReadCloser
	m  *Meter
}

func (b *meteredBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		_, _ = b.m.Write(p[:n])
	}
	if errors.Is(err, io.EOF) {
		_ = b.m.Close()
	}
	return n, err
}

func (b *meteredBody) Close() error {
	err := b.rc.Close()
	_ = b.m.Close()
	return err
}

// MeterResponse reads a whole response body of the given API and returns the usage it reports. A body without
// usage (an error response, say) yields zero usage and no error; a JSON body that cannot be read is an error.
func MeterResponse(api string, contentType string, body io.Reader) (Usage, error) {
	m, err := NewMeter(api)
	if err != nil {
		return Usage{}, err
	}
	m.SetContentType(contentType)
	if _, err := io.Copy(m, body); err != nil {
		_ = m.Close()
		return m.Usage(), fmt.Errorf("llm: meter: reading body: %w", err)
	}
	_ = m.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode == modeJSON && !m.complete {
		return m.usage, fmt.Errorf("%w: body is not a JSON %s response", ErrBadResponse, m.api)
	}
	return m.usage, nil
}

// meterEvent holds the fields of any of the four APIs' events that carry usage or end a stream.
type meterEvent struct {
	Type string `json:"type"`
	// Chat Completions: usage; Anthropic message_delta: usage; Responses: usage of a whole body.
	Usage json.RawMessage `json:"usage"`
	// Anthropic message_start.
	Message *struct {
		Usage *anthropicUsage `json:"usage"`
	} `json:"message"`
	// Responses terminal events.
	Response *struct {
		Usage *responsesUsage `json:"usage"`
	} `json:"response"`
	// Gemini.
	UsageMetadata *geminiUsage `json:"usageMetadata"`
	Candidates    []struct {
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
}

// observeEvent applies one server-sent event (called with m.mu held).
func (m *Meter) observeEvent(ev sseEvent) error {
	data := strings.TrimSpace(ev.Data)
	if m.api == OpenAIChat && data == "[DONE]" {
		m.complete = true
		return nil
	}
	if !m.mayCarryUsage(ev.Event, data) {
		return nil
	}
	var e meterEvent
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		m.skipped++
		return nil
	}
	if e.Type == "" {
		e.Type = ev.Event
	}
	m.apply(&e, true)
	return nil
}

// mayCarryUsage skips the decoding of events that cannot matter (text and argument deltas, the bulk of a
// stream). Keys are looked for with their quotes: inside a JSON string a quote is escaped, so generated text
// cannot fake a match, only cause a harmless decode.
func (m *Meter) mayCarryUsage(event, data string) bool {
	switch m.api {
	case OpenAIChat:
		return strings.Contains(data, `"usage"`)
	case OpenAIResponses:
		return strings.Contains(data, `"response.completed"`) || strings.Contains(data, `"response.incomplete"`) ||
			strings.Contains(data, `"response.failed"`) || strings.HasPrefix(event, "response.completed") ||
			event == "response.incomplete" || event == "response.failed"
	case Anthropic:
		return strings.Contains(data, `"usage"`) || strings.Contains(data, `"message_stop"`) || event == "message_stop"
	case Gemini:
		return strings.Contains(data, `"usageMetadata"`) || strings.Contains(data, `"finishReason"`)
	}
	return true
}

// apply folds one decoded event (or whole body) into the usage.
func (m *Meter) apply(e *meterEvent, streamed bool) {
	switch m.api {
	case OpenAIChat:
		if u := decodeUsage[chatUsage](e.Usage); u != nil {
			m.usage = u.usage()
		}
		if !streamed {
			m.complete = true
		}
	case OpenAIResponses:
		if !streamed {
			if u := decodeUsage[responsesUsage](e.Usage); u != nil {
				m.usage = u.usage()
			}
			m.complete = true
			return
		}
		switch e.Type {
		case "response.completed", "response.incomplete", "response.failed":
			if e.Response != nil && e.Response.Usage != nil {
				m.usage = e.Response.Usage.usage()
			}
			m.complete = true
		}
	case Anthropic:
		if e.Message != nil {
			m.usage = e.Message.Usage.apply(m.usage)
		}
		if u := decodeUsage[anthropicUsage](e.Usage); u != nil {
			m.usage = u.apply(m.usage)
		}
		if e.Type == "message_stop" || !streamed {
			m.complete = true
		}
	case Gemini:
		if e.UsageMetadata != nil {
			m.usage = e.UsageMetadata.usage()
		}
		if !streamed {
			m.complete = true
		} else if len(e.Candidates) > 0 && e.Candidates[0].FinishReason != "" {
			m.complete = true
		}
	}
}

// decodeUsage reads a usage member if it is a JSON object.
func decodeUsage[T any](raw json.RawMessage) *T {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var u T
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil
	}
	return &u
}

// parseJSON reads the buffered body: one object, or (Gemini's stream without alt=sse) an array of them.
func (m *Meter) parseJSON() {
	if m.tooBig {
		return
	}
	body := bytes.TrimSpace(m.buf.Bytes())
	if len(body) == 0 {
		return
	}
	if body[0] == '[' {
		var arr []meterEvent
		if err := json.Unmarshal(body, &arr); err != nil {
			return
		}
		for i := range arr {
			m.apply(&arr[i], false)
		}
		m.complete = true
		return
	}
	var e meterEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return
	}
	m.apply(&e, false)
}
