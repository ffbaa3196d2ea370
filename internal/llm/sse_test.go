package llm

import (
	"reflect"
	"testing"
)

// parseAll feeds b in chunks of the given size and returns the events.
func parseAll(b []byte, chunk int) ([]sseEvent, int) {
	p := newSSEParser()
	var evs []sseEvent
	emit := func(e sseEvent) error { evs = append(evs, e); return nil }
	if chunk <= 0 {
		chunk = len(b) + 1
	}
	for len(b) > 0 {
		n := min(chunk, len(b))
		_ = p.feed(b[:n], emit)
		b = b[n:]
	}
	_ = p.close(emit)
	return evs, p.dropped
}

func TestSSEParser(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []sseEvent
	}{
		{"one event", "event: ping\ndata: {}\n\n", []sseEvent{{Event: "ping", Data: "{}"}}},
		{"multi-line data joined with LF", "data: a\ndata: b\n\n", []sseEvent{{Data: "a\nb"}}},
		{"CRLF and CR line ends", "data: a\r\n\r\ndata: b\r\rdata: c\n\n", []sseEvent{{Data: "a"}, {Data: "b"}, {Data: "c"}}},
		{"comments and unknown fields ignored", ": keep-alive\nfoo: bar\ndata: x\nretry: 10\n\n", []sseEvent{{Data: "x"}}},
		{"only one leading space stripped", "data:  two\ndata:none\n\n", []sseEvent{{Data: " two\nnone"}}},
		{"field without colon", "data\n\n", []sseEvent{{Data: ""}}},
		{"event without data is not dispatched", "event: x\n\ndata: y\n\n", []sseEvent{{Data: "y"}}},
		{"id persists", "id: 7\ndata: a\n\ndata: b\n\n", []sseEvent{{Data: "a", ID: "7"}, {Data: "b", ID: "7"}}},
		{"byte order mark skipped", "\xEF\xBB\xBFdata: a\n\n", []sseEvent{{Data: "a"}}},
		{"last event without blank line still dispatched", "data: [DONE]", []sseEvent{{Data: "[DONE]"}}},
		{"no events", "\n\n:\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 2, 3, 7} {
				got, _ := parseAll([]byte(tt.in), chunk)
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("chunk %d: got %#v, want %#v", chunk, got, tt.want)
				}
			}
		})
	}
}

func TestSSELineLimit(t *testing.T) {
	p := newSSEParser()
	p.maxLine = 8
	var evs []sseEvent
	emit := func(e sseEvent) error { evs = append(evs, e); return nil }
	_ = p.feed([]byte("data: 0123456789\n\ndata: ok\n\n"), emit)
	if p.dropped != 1 || len(evs) != 1 || evs[0].Data != "ok" {
		t.Fatalf("dropped %d, events %#v", p.dropped, evs)
	}
}
