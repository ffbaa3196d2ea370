package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// APIVersion is the apiVersion of every envelope (the only version of the API).
const APIVersion = "2026-03-21"

// Event types (API.md §3.7).
const (
	EventRunStarted   = "run.started"
	EventRunSuccess   = "run.success"
	EventRunFailed    = "run.failed"
	EventRunTimeout   = "run.timeout"
	EventRunCancelled = "run.cancelled"
	// EventTestPing is the type of the event sent by POST /api/webhooks/{id}/test; webhooks cannot subscribe to it.
	EventTestPing = "test.ping"
)

// EventTypes are the event types a webhook can subscribe to.
var EventTypes = []string{EventRunStarted, EventRunSuccess, EventRunFailed, EventRunTimeout, EventRunCancelled}

// IsEventType reports whether t is a subscribable event type.
func IsEventType(t string) bool { return slices.Contains(EventTypes, t) }

// Payload modes.
const (
	PayloadFull    = "full"
	PayloadSummary = "summary"
)

// MaxDataBytes is the size of the serialised `data` member above which `result` is dropped and
// `resultTruncated: true` set.
const MaxDataBytes = 256 * 1024

// Envelope is the body of every delivery, in wire order.
type Envelope struct {
	ID         string       `json:"id"`
	Object     string       `json:"object"` // "event"
	Type       string       `json:"type"`
	APIVersion string       `json:"apiVersion"`
	Created    int64        `json:"created"` // unix seconds
	Data       EnvelopeData `json:"data"`
}

// EnvelopeData holds the object the event is about.
type EnvelopeData struct {
	Object json.RawMessage `json:"object"`
}

// BuildEnvelope renders the body of event id for one payload mode. object is encoded as JSON and must be
// a JSON object. In summary mode its `result` and `input` members are removed; when the encoded data member
// exceeds MaxDataBytes, `result` is removed and `resultTruncated: true` added.
func BuildEnvelope(id, eventType string, created int64, object any, mode string) ([]byte, error) {
	raw, err := json.Marshal(object)
	if err != nil {
		return nil, fmt.Errorf("webhooks: encode event object: %w", err)
	}
	obj, err := shapeObject(raw, mode)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(Envelope{ID: id, Object: "event", Type: eventType, APIVersion: APIVersion, Created: created,
		Data: EnvelopeData{Object: obj}})
	if err != nil {
		return nil, fmt.Errorf("webhooks: encode envelope: %w", err)
	}
	return body, nil
}

// shapeObject applies the payload mode and the size rule to the encoded object, keeping the order of the
// members it does not remove.
func shapeObject(raw []byte, mode string) (json.RawMessage, error) {
	members, err := objectMembers(raw)
	if err != nil {
		return nil, err
	}
	if mode == PayloadSummary {
		members = slices.DeleteFunc(members, func(m member) bool { return m.key == "result" || m.key == "input" })
	}
	out := encodeMembers(members)
	if len(`{"object":}`)+len(out) > MaxDataBytes {
		members = slices.DeleteFunc(members, func(m member) bool { return m.key == "result" || m.key == "resultTruncated" })
		members = append(members, member{key: "resultTruncated", value: json.RawMessage("true")})
		out = encodeMembers(members)
	}
	return out, nil
}

// member is one member of a JSON object, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers splits a JSON object into its members.
func objectMembers(raw []byte) ([]member, error) {
	errNotObject := errors.New("webhooks: the event object must be a JSON object")
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errNotObject
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errNotObject
		}
		out = append(out, member{key: key, value: v})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotObject
	}
	return out, nil
}

func encodeMembers(members []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}
