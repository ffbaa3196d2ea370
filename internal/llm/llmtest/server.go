package llmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running fake (or, from NewHandler, just its handler). Safe for concurrent use.
type Server struct {
	// URL is the root of the server ("http://127.0.0.1:PORT"); empty for a bare handler.
	URL string

	mu       sync.Mutex
	scripts  []Script
	record   bool
	requests []Request
	count    int
	faults   map[string]int // conversation#position -> faults served
	closeFn  func()
	closed   bool
}

// maxBody bounds a request body.
const maxBody = 64 << 20

// NewHandler returns the fake as an http.Handler, without a listener.
func NewHandler(scripts ...Script) *Server {
	return &Server{scripts: scripts, record: true, faults: map[string]int{}}
}

// New starts the fake on a loopback port for the duration of the test.
func New(t testing.TB, scripts ...Script) *Server {
	t.Helper()
	s := NewHandler(scripts...)
	ts := httptest.NewServer(s)
	s.URL, s.closeFn = ts.URL, ts.Close
	t.Cleanup(s.Close)
	return s
}

// Serve starts the fake on addr (e.g. "127.0.0.1:0") outside of tests, for a developer "--fake-llm" mode.
// Close stops it.
func Serve(addr string, scripts ...Script) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("llmtest: listen: %w", err)
	}
	s := NewHandler(scripts...)
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	s.URL = "http://" + ln.Addr().String()
	s.closeFn = func() { _ = hs.Close() }
	return s, nil
}

// Close stops the server (waiting for the requests in flight when started by New).
func (s *Server) Close() {
	s.mu.Lock()
	fn := s.closeFn
	done := s.closed
	s.closed = true
	s.mu.Unlock()
	if fn != nil && !done {
		fn()
	}
}

// BaseURL is the base URL a client of api should use: URL+"/v1" for the OpenAI formats (whose paths do not
// carry the version), URL otherwise.
func (s *Server) BaseURL(api string) string {
	if api == OpenAIChat || api == OpenAIResponses {
		return s.URL + "/v1"
	}
	return s.URL
}

// SetScripts replaces the scripts (fault counters are kept).
func (s *Server) SetScripts(scripts ...Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts = scripts
}

// SetRecording turns the recording of requests on (the default) or off (benchmarks with many runs).
func (s *Server) SetRecording(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record = on
}

// Requests returns the requests received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsFor returns the requests of one conversation (by X-Run-Id, or Request.Conversation).
func (s *Server) RequestsFor(conversation string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.RunID == conversation || r.Conversation == conversation {
			out = append(out, r)
		}
	}
	return out
}

// Count is the number of requests received, recorded or not.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Reset forgets the recorded requests and the fault counters.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.count, s.faults = nil, 0, map[string]int{}
}

func (s *Server) add(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	if s.record {
		s.requests = append(s.requests, r)
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	api, model, stream, ok := route(r.URL.Path)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]string{"message": "llmtest: no such endpoint " + r.URL.Path}})
		return
	}
	rd := renderers[api]
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, rd.errorBody(http.StatusMethodNotAllowed, "", "method not allowed"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	req := Request{API: api, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(),
		Body: body, APIKey: apiKey(api, r), RunID: r.Header.Get(RunHeader), Turn: -1}
	if err != nil || len(body) > maxBody {
		s.refuse(w, rd, &req, http.StatusRequestEntityTooLarge, "request_too_large", "request body unreadable or too large")
		return
	}
	if api == Gemini {
		req.Model, req.Stream = model, stream
	}
	if err := decode(&req); err != nil {
		s.refuse(w, rd, &req, http.StatusBadRequest, "", err.Error())
		return
	}
	if api == Gemini {
		req.Stream = stream // the body has no stream flag
	}
	script, ok := s.pick(req)
	req.Conversation = conversation(req)
	if !ok {
		s.refuse(w, rd, &req, http.StatusInternalServerError, "llmtest_no_script", "llmtest: no script matches this conversation")
		return
	}
	if script.APIKey != "" && req.APIKey != script.APIKey {
		s.refuse(w, rd, &req, http.StatusUnauthorized, "", "invalid API key")
		return
	}
	pos := req.AssistantTurns()
	req.Turn = pos
	if pos >= len(script.Turns) {
		s.refuse(w, rd, &req, http.StatusInternalServerError, "llmtest_script_exhausted",
			fmt.Sprintf("llmtest: script exhausted (%d turns, conversation has %d assistant turns)", len(script.Turns), pos))
		return
	}
	turn := script.Turns[pos]
	if f := turn.Fault; f != nil && s.takeFault(req.Conversation, pos, f) {
		req.Fault = true
		s.fault(w, r, rd, req, turn, f)
		return
	}
	if turn.Reply != nil {
		next := turn.Reply(req)
		next.Reply, next.Fault = nil, nil
		if next.Delay == 0 {
			next.Delay = turn.Delay
		}
		if next.EventDelay == 0 {
			next.EventDelay = turn.EventDelay
		}
		turn = next
	}
	if !sleep(r, turn.Delay) {
		req.Status = 499
		s.add(req)
		return
	}
	a := newAnswer(api, pos, req.Model, turn)
	req.Status = http.StatusOK
	s.add(req)
	if !req.Stream {
		writeJSON(w, http.StatusOK, rd.json(a))
		return
	}
	events := rd.events(a, req)
	if api == Gemini && !strings.Contains(req.Query, "alt=sse") {
		writeJSONArray(w, r, events, turn.EventDelay, -1)
		return
	}
	writeSSE(w, r, events, turn.EventDelay, -1, nil)
}

// pick selects the script of a conversation.
func (s *Server) pick(req Request) (Script, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := req.FirstUserText()
	var fallback *Script
	for i := range s.scripts {
		sc := &s.scripts[i]
		if sc.Match == "" {
			if fallback == nil {
				fallback = sc
			}
			continue
		}
		if strings.Contains(req.System, sc.Match) || strings.Contains(first, sc.Match) {
			return *sc, true
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return Script{}, false
}

// takeFault reports whether the fault answers this request, counting it.
func (s *Server) takeFault(conv string, pos int, f *Fault) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := fmt.Sprintf("%s#%d", conv, pos)
	times := f.Times
	if times == 0 {
		times = 1
	}
	if times > 0 && s.faults[key] >= times {
		return false
	}
	s.faults[key]++
	return true
}

func (s *Server) refuse(w http.ResponseWriter, rd renderer, req *Request, status int, typ, msg string) {
	req.Status = status
	s.add(*req)
	writeJSON(w, status, rd.errorBody(status, typ, msg))
}

// fault answers an injected failure.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, rd renderer, req Request, turn Turn, f *Fault) {
	if !sleep(r, turn.Delay) {
		req.Status = 499
		s.add(req)
		return
	}
	msg := f.Message
	if msg == "" {
		msg = "llmtest: injected fault"
	}
	status := f.Status
	if f.StreamError && !req.Stream && status == 0 {
		status = 529
	}
	if status != 0 && (!f.StreamError || !req.Stream) {
		req.Status = status
		s.add(req)
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeJSON(w, status, rd.errorBody(status, f.Type, msg))
		return
	}
	req.Status = http.StatusOK
	s.add(req)
	a := newAnswer(req.API, req.Turn, req.Model, turn)
	after := f.AfterEvents
	switch {
	case f.Malformed && !req.Stream:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"id":"llmtest-broken","choices":[{"message":`)
	case !req.Stream && f.Disconnect:
		b, _ := json.Marshal(rd.json(a))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b[:len(b)/2])
		cut(w)
	case !req.Stream:
		writeJSON(w, http.StatusOK, rd.json(a))
	default:
		events := rd.events(a, req)
		var tail *sseOut
		switch {
		case f.Malformed:
			tail = &sseOut{data: json.RawMessage(`{"type": "broken`)}
			after = max(after, 1)
		case f.StreamError:
			typ := f.Type
			if typ == "" {
				typ = "overloaded_error"
			}
			e := rd.streamError(typ, msg)
			tail = &e
		}
		if req.API == Gemini && !strings.Contains(req.Query, "alt=sse") {
			if f.Disconnect || tail != nil {
				writeJSONArray(w, r, events, turn.EventDelay, after)
				return
			}
			writeJSONArray(w, r, events, turn.EventDelay, -1)
			return
		}
		if !f.Disconnect && tail == nil {
			after = -1
		}
		writeSSE(w, r, events, turn.EventDelay, after, tail)
	}
}

// sleep waits d unless the client goes away first; it reports whether to go on.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

// apiKey reads the key the request carries, the way its API sends it.
func apiKey(api string, r *http.Request) string {
	bearer := strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	switch api {
	case Anthropic:
		if k := r.Header.Get("X-Api-Key"); k != "" {
			return k
		}
		return bearer
	case Gemini:
		if k := r.Header.Get("X-Goog-Api-Key"); k != "" {
			return k
		}
		return r.URL.Query().Get("key")
	}
	return bearer
}

// conversation identifies a conversation: its run header, else a hash of its system prompt and first message.
func conversation(req Request) string {
	if req.RunID != "" {
		return req.RunID
	}
	sum := sha256.Sum256([]byte(req.System + "\x00" + req.FirstUserText()))
	return "conv-" + hex.EncodeToString(sum[:8])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"llmtest: encode"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// sseOut is one event to send.
type sseOut struct {
	event string
	data  any
}

// writeSSE sends events; after >= 0 stops after that many, then sends tail (if any) and cuts the connection
// when tail is nil.
func writeSSE(w http.ResponseWriter, r *http.Request, events []sseOut, gap time.Duration, after int, tail *sseOut) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(e sseOut) {
		if e.event != "" {
			_, _ = fmt.Fprintf(w, "event: %s\n", e.event)
		}
		var data []byte
		switch d := e.data.(type) {
		case string:
			data = []byte(d)
		default:
			data, _ = json.Marshal(d)
		}
		_, _ = fmt.Fprintf(w, "data: %s\n\n", data)
		_ = rc.Flush()
	}
	for i, e := range events {
		if after >= 0 && i >= after {
			break
		}
		if i > 0 && !sleep(r, gap) {
			return
		}
		send(e)
	}
	if after < 0 {
		return
	}
	if tail != nil {
		send(*tail)
		return
	}
	cut(w)
}

// writeJSONArray sends the events' data as one JSON array, element by element (Gemini without alt=sse).
func writeJSONArray(w http.ResponseWriter, r *http.Request, events []sseOut, gap time.Duration, after int) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "[")
	for i, e := range events {
		if after >= 0 && i >= after {
			_ = rc.Flush()
			cut(w)
			return
		}
		if i > 0 {
			if !sleep(r, gap) {
				return
			}
			_, _ = io.WriteString(w, ",\n")
		}
		b, _ := json.Marshal(e.data)
		_, _ = w.Write(b)
		_ = rc.Flush()
	}
	_, _ = io.WriteString(w, "]")
}

// cut drops the connection in the middle of the response.
func cut(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		return // not hijackable (HTTP/2): the response just ends short
	}
	_ = conn.Close()
}
