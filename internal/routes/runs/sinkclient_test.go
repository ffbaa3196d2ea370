package runs_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// sinkClient speaks the runner side of the sink protocol (RUNTIME.md §4.8) through the test pipeline.
type sinkClient struct {
	t                *testing.T
	e                *apptest.Env
	runID            string
	events, finalize string // paths
	secret           string
	now              func() time.Time // signing clock
	contentType      string
	lastID           string // webhook-id of the last request
	lastBody         []byte
}

func pathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		t.Fatalf("sink url %q: %v", raw, err)
	}
	return u.Path
}

func newSinkClient(t *testing.T, e *apptest.Env, runID, eventsURL, finalizeURL, secret string) *sinkClient {
	return &sinkClient{t: t, e: e, runID: runID, events: pathOf(t, eventsURL), finalize: pathOf(t, finalizeURL),
		secret: secret, now: time.Now, contentType: sink.ContentTypeEvent}
}

// signed sends body to path signed with the client's secret under webhook-id id ("" = a fresh one).
func (c *sinkClient) signed(path, id string, body []byte) *apptest.Response {
	c.t.Helper()
	if id == "" {
		id = ids.UUID()
	}
	ts := c.now().Unix()
	h := http.Header{}
	h.Set(sink.HeaderID, id)
	h.Set(sink.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(sink.HeaderSignature, sink.Sign(c.secret, id, ts, body))
	h.Set("Content-Type", c.contentType)
	c.lastID, c.lastBody = id, body
	return c.e.Do(apptest.Request{Method: "POST", Path: path, Body: body, Headers: h})
}

func envelope(runID string, seq int64, typ string, data any) []byte {
	raw, _ := json.Marshal(data)
	b, _ := json.Marshal(sink.Envelope{SpecVersion: "1.0", Type: typ, Source: "/afps/runs/" + runID, ID: ids.UUID(),
		Time: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), DataContentType: "application/json", Data: raw, Sequence: seq})
	return b
}

// event posts one event and returns the response.
func (c *sinkClient) event(seq int64, typ string, data any) *apptest.Response {
	c.t.Helper()
	return c.signed(c.events, "", envelope(c.runID, seq, typ, data))
}

// outcome posts one event and checks it answered 200 with want.
func (c *sinkClient) outcome(seq int64, typ string, data any, want string) {
	c.t.Helper()
	res := c.event(seq, typ, data)
	var out struct {
		OK       bool
		Outcome  string
		Sequence *int64
	}
	if res.Status != 200 {
		c.t.Fatalf("event %d %s: %d %s", seq, typ, res.Status, res.Body)
	}
	res.JSON(c.t, &out)
	if !out.OK || out.Outcome != want {
		c.t.Fatalf("event %d %s: %s, want %s", seq, typ, res.Body, want)
	}
	if want == "persisted" && (out.Sequence == nil || *out.Sequence != seq) {
		c.t.Fatalf("event %d: sequence %v", seq, out.Sequence)
	}
}

func (c *sinkClient) finalizeWith(result any) *apptest.Response {
	c.t.Helper()
	raw, err := json.Marshal(result)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.signed(c.finalize, "", raw)
}

func (c *sinkClient) heartbeat() *apptest.Response {
	c.t.Helper()
	return c.signed(c.events+"/heartbeat", "", []byte(`{}`))
}

// wantProblem checks a problem status and code.
func wantProblem(t *testing.T, res *apptest.Response, status int, code string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d %s: %s", res.Status, status, code, res.Body)
	}
	if p := res.Problem(t); p.Code != code {
		t.Fatalf("code %s, want %s: %s", p.Code, code, res.Body)
	}
}
