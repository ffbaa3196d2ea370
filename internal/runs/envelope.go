package runs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/appstrate/appstrate-go/internal/sink"
)

// EnvelopeError is a sink event whose envelope is not a strict CloudEvents 1.0 envelope of RUNTIME.md §1.4
// (400 validation_failed); Field names the offending member.
type EnvelopeError struct {
	Field   string
	Message string
}

func (e *EnvelopeError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// envelopeFields are the members an envelope must have, and the only ones it may have.
var envelopeFields = []string{"specversion", "type", "source", "id", "time", "datacontenttype", "data", "sequence"}

// DecodeEnvelope parses and validates one sink event: {specversion:"1.0", type, source, id (non-empty
// strings), time (RFC 3339), datacontenttype:"application/json", data (a JSON object), sequence (an integer
// ≥ 0)}, nothing else.
func DecodeEnvelope(body []byte) (sink.Envelope, error) {
	var members map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&members); err != nil || members == nil {
		return sink.Envelope{}, &EnvelopeError{Message: "body must be a JSON object"}
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return sink.Envelope{}, &EnvelopeError{Message: "unexpected data after the JSON object"}
	}
	for name := range members {
		if !knownEnvelopeField(name) {
			return sink.Envelope{}, &EnvelopeError{Field: name, Message: "unknown field"}
		}
	}
	var env sink.Envelope
	strs := []struct {
		name string
		dst  *string
	}{{"specversion", &env.SpecVersion}, {"type", &env.Type}, {"source", &env.Source}, {"id", &env.ID},
		{"time", &env.Time}, {"datacontenttype", &env.DataContentType}}
	for _, f := range strs {
		raw, ok := members[f.name]
		if !ok {
			return sink.Envelope{}, &EnvelopeError{Field: f.name, Message: "is required"}
		}
		if err := json.Unmarshal(raw, f.dst); err != nil || *f.dst == "" {
			return sink.Envelope{}, &EnvelopeError{Field: f.name, Message: "must be a non-empty string"}
		}
	}
	if env.SpecVersion != "1.0" {
		return sink.Envelope{}, &EnvelopeError{Field: "specversion", Message: `must be "1.0"`}
	}
	if env.DataContentType != "application/json" {
		return sink.Envelope{}, &EnvelopeError{Field: "datacontenttype", Message: `must be "application/json"`}
	}
	if _, err := time.Parse(time.RFC3339Nano, env.Time); err != nil {
		return sink.Envelope{}, &EnvelopeError{Field: "time", Message: "must be an ISO 8601 date-time"}
	}
	data, ok := members["data"]
	if !ok {
		return sink.Envelope{}, &EnvelopeError{Field: "data", Message: "is required"}
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
		return sink.Envelope{}, &EnvelopeError{Field: "data", Message: "must be an object"}
	}
	env.Data = append(json.RawMessage(nil), bytes.TrimSpace(data)...)
	seq, err := decodeSequence(members["sequence"])
	if err != nil {
		return sink.Envelope{}, err
	}
	env.Sequence = seq
	return env, nil
}

func knownEnvelopeField(name string) bool {
	for _, f := range envelopeFields {
		if f == name {
			return true
		}
	}
	return false
}

func decodeSequence(raw json.RawMessage) (int64, error) {
	if raw == nil {
		return 0, &EnvelopeError{Field: "sequence", Message: "is required"}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, &EnvelopeError{Field: "sequence", Message: "must be an integer"}
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		return 0, &EnvelopeError{Field: "sequence", Message: "must be an integer"}
	}
	seq, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return 0, &EnvelopeError{Field: "sequence", Message: "must be an integer"}
	}
	if seq < 0 {
		return 0, &EnvelopeError{Field: "sequence", Message: fmt.Sprintf("must be >= 0, got %d", seq)}
	}
	return seq, nil
}
