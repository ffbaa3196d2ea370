package jstools

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecodeHostMessage: any line either fails with errBadMessage or decodes to exactly one kind of message,
// a reply carrying exactly one of result and error.
func FuzzDecodeHostMessage(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"result":{"content":[{"type":"text","text":"hi"}]}}`,
		`{"id":2,"error":{"message":"boom","stack":"Error: boom\n    at x"}}`,
		`{"stdout":"{\"type\":\"output.emitted\",\"data\":{}}"}`,
		`{"stdout":"head","truncated":5000000}`,
		`{"log":{"level":"warn","message":"unsupported hook"}}`,
		`{"ctx":{"id":1,"call":3,"method":"providerCall","args":["@a/b",{}]}}`,
		`{"id":1,"result":null}`, `{"id":1}`, `{"id":1,"result":1,"error":{"message":"x"}}`, `{"result":1}`,
		`{"stdout":"a","log":{}}`, `[]`, `null`, `{"id":"1","result":1}`, `{"ctx":{"id":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := decodeHostMessage(line)
		if err != nil {
			if !strings.HasPrefix(err.Error(), errBadMessage.Error()) {
				t.Fatalf("%q: error %v does not wrap errBadMessage", line, err)
			}
			return
		}
		kinds := 0
		for _, present := range []bool{m.ID != nil, m.Stdout != nil, m.Log != nil, m.Ctx != nil} {
			if present {
				kinds++
			}
		}
		if kinds != 1 {
			t.Fatalf("%q: decoded with %d kinds: %+v", line, kinds, m)
		}
		if m.ID != nil && (m.Result == nil) == (m.Error == nil) {
			t.Fatalf("%q: reply with result %s and error %v", line, m.Result, m.Error)
		}
		if m.Ctx != nil && m.Ctx.Method == "" {
			t.Fatalf("%q: tool-context request without a method", line)
		}
	})
}

// FuzzParseEvent: an accepted line is a compact JSON object of a canonical type, and accepting it again
// gives the same bytes.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"type":"output.emitted","data":{"a":1}}`, ` {"type": "log.written", "level": "info", "message": "m"} `,
		`{"type":"output","data":1}`, `{"type":1}`, `{"data":{}}`, `"output.emitted"`, `{"type":"pinned.set"`,
		`{"type":"memory.added","content":"x"} trailing`, `{"type":"report.appended","content":"\u00e9"}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		event, ok := parseEvent(line)
		if !ok {
			return
		}
		var head struct{ Type string }
		if err := json.Unmarshal(event, &head); err != nil || !eventTypes[head.Type] {
			t.Fatalf("%q accepted as %s (%v)", line, event, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, event); err != nil || !bytes.Equal(compact.Bytes(), event) {
			t.Fatalf("%q: event %s is not compact", line, event)
		}
		again, ok := parseEvent(event)
		if !ok || !bytes.Equal(again, event) {
			t.Fatalf("%q: %s re-parsed as %s, %v", line, event, again, ok)
		}
	})
}

// FuzzDecodeResult: an accepted result has only text parts and complete images.
func FuzzDecodeResult(f *testing.F) {
	for _, s := range []string{
		`{"content":[{"type":"text","text":"ok"}]}`,
		`{"content":[{"type":"image","data":"AA==","mimeType":"image/png"}],"isError":true,"details":{"a":1}}`,
		`{"content":[]}`, `{}`, `{"content":[{"type":"audio"}]}`, `{"content":[{"type":"image","data":"AA=="}]}`,
		`{"content":null}`, `{"content":[{"type":"text"}],"details":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decodeResult(raw)
		if err != nil {
			return
		}
		if r.Content == nil {
			t.Fatalf("%q: accepted without content", raw)
		}
		for i, c := range r.Content {
			if c.Type != "text" && (c.Type != "image" || c.Data == "" || c.MimeType == "") {
				t.Fatalf("%q: content[%d] = %+v accepted", raw, i, c)
			}
		}
		if string(r.Details) == "null" {
			t.Fatalf("%q: null details kept", raw)
		}
	})
}

// FuzzReadLines: with a limit at least as long as the input, the lines put back together with their
// endings give the input; with any limit, no line passed is longer than the limit and each size is exact.
func FuzzReadLines(f *testing.F) {
	for _, s := range []string{"a\nb\n", "no newline", "\n\n", "crlf\r\nline\r\n", "", strings.Repeat("x", 70000) + "\ny"} {
		f.Add([]byte(s), 4)
	}
	f.Fuzz(func(t *testing.T, input []byte, limit int) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		var whole bytes.Buffer
		err := readLines(bytes.NewReader(input), len(input)+1, func(line []byte, size int) error {
			if size != len(line) && size != len(line)+1 { // +1: a trimmed '\r'
				t.Fatalf("line %q has size %d", line, size)
			}
			whole.Write(line)
			if size == len(line)+1 {
				whole.WriteByte('\r')
			}
			whole.WriteByte('\n')
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := whole.String(); got != string(input) && got != string(input)+"\n" {
			t.Fatalf("lines of %q put back together give %q", input, got)
		}
		_ = readLines(bytes.NewReader(input), limit, func(line []byte, size int) error {
			if len(line) > limit || (size <= limit && size != len(line) && size != len(line)+1) {
				t.Fatalf("limit %d: line %q of size %d", limit, line, size)
			}
			return nil
		})
	})
}
