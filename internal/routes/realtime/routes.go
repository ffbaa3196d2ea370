package realtime

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/ids"
	rt "github.com/appstrate/appstrate-go/internal/realtime"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Deps are what the streams need.
type Deps struct {
	Hub        *rt.Hub
	DB         *store.DB // the log rows a per-run stream replays with ?since=
	Strategies []httpapi.Strategy
	Tenancy    httpapi.TenancyResolver
	// PingEvery is the keep-alive interval (default 30 s).
	PingEvery time.Duration
}

// Register adds the three stream routes to mux.
func Register(mux *http.ServeMux, d Deps) {
	s := &streams{d: d}
	mux.HandleFunc("GET /api/realtime/runs", s.serve(func(*http.Request) rt.Filter { return rt.Filter{} }))
	mux.HandleFunc("GET /api/realtime/runs/{id}", s.serve(func(r *http.Request) rt.Filter {
		return rt.Filter{RunID: r.PathValue("id")}
	}))
	mux.HandleFunc("GET /api/realtime/agents/{packageId}/runs", s.serve(func(r *http.Request) rt.Filter {
		return rt.Filter{PackageID: r.PathValue("packageId")}
	}))
}

type streams struct {
	d    Deps
	next atomic.Int64
}

// authRequest moves the query-string credentials into the headers the pipeline's strategies read.
func authRequest(r *http.Request) *http.Request {
	q := r.URL.Query()
	c := r.Clone(r.Context())
	if tok := strings.TrimSpace(q.Get("token")); tok != "" {
		c.Header.Set("Authorization", "Bearer "+tok)
	}
	if org := q.Get("orgId"); org != "" {
		c.Header.Set("X-Org-Id", org)
	}
	if app := q.Get("applicationId"); app != "" {
		c.Header.Set("X-Application-Id", app)
	}
	return c
}

func (s *streams) serve(scope func(*http.Request) rt.Filter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, problem := httpapi.AuthenticateRequest(authRequest(r), s.d.Strategies, s.d.Tenancy)
		if problem != nil {
			httpapi.WriteProblem(w, r, problem)
			return
		}
		f := scope(r)
		if f.RunID != "" && !ids.Valid(f.RunID, ids.Run) {
			httpapi.WriteProblem(w, r, httpapi.NotFound("Run not found"))
			return
		}
		f.OrgID, f.AppID, f.EndUserID = p.OrgID, p.ApplicationID, p.EndUserID
		flusher, ok := w.(http.Flusher)
		if !ok {
			httpapi.WriteProblem(w, r, httpapi.Internal())
			return
		}
		sub := s.d.Hub.Subscribe(f)
		defer sub.Close()
		verbose := r.URL.Query().Get("verbose") == "true"
		var replay []rt.Event
		if raw := r.URL.Query().Get("since"); raw != "" && f.RunID != "" {
			since, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || since < 0 {
				httpapi.WriteProblem(w, r, httpapi.BadRequest("invalid_request", "since must be a log id (an integer ≥ 0)").WithParam("since"))
				return
			}
			// Subscribed first, read second: nothing falls between the replay and the live tail.
			if replay, err = rt.LogsSince(r.Context(), s.d.DB, f.OrgID, f.AppID, f.RunID, since); err != nil {
				httpapi.WriteProblem(w, r, httpapi.Internal())
				return
			}
		}
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("Connection", "keep-alive")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		s.pump(w, flusher, r, sub, replay, verbose)
	}
}

func (s *streams) pump(w http.ResponseWriter, flusher http.Flusher, r *http.Request, sub *rt.Subscription,
	replay []rt.Event, verbose bool) {
	subID := strconv.FormatInt(s.next.Add(1), 10)
	n := 0
	ping := s.d.PingEvery
	if ping <= 0 {
		ping = 30 * time.Second
	}
	timer := time.NewTimer(ping)
	defer timer.Stop()
	writeFrame(w, "ping", "", "")
	var lastReplayed int64
	send := func(e rt.Event) {
		payload := e.Payload // shared with the other subscribers: never modified
		if e.Name == "run_log" && !verbose {
			payload = without(payload, "data")
		}
		data, err := json.Marshal(payload)
		if err != nil {
			return
		}
		n++
		writeFrame(w, e.Name, string(data), subID+":"+strconv.Itoa(n))
	}
	for _, e := range replay {
		send(e)
		lastReplayed = e.LogID()
	}
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-timer.C:
			writeFrame(w, "ping", "", "")
		case e, ok := <-sub.C:
			if !ok {
				return // fell behind: the client reconnects
			}
			if id := e.LogID(); id != 0 && id <= lastReplayed {
				continue // already sent by the replay
			}
			send(e)
		}
		flusher.Flush()
		timer.Reset(ping)
	}
}

func writeFrame(w http.ResponseWriter, event, data, id string) {
	var b strings.Builder
	b.WriteString("event: ")
	b.WriteString(event)
	b.WriteString("\ndata: ")
	b.WriteString(data)
	b.WriteString("\n")
	if id != "" {
		b.WriteString("id: ")
		b.WriteString(id)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	_, _ = w.Write([]byte(b.String()))
}

// without returns a copy of m lacking key.
func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}
