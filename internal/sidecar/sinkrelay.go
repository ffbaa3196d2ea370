package sidecar

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Sink relay bounds: a relayed request may take this long, and this much of the platform's answer is passed
// back (sink answers are small JSON documents).
const (
	sinkRelayTimeout     = 60 * time.Second
	maxSinkRelayResponse = 1 << 20
)

// finalizeUsageWait bounds the wait of a relayed finalize for the usage of the LLM requests in flight.
const finalizeUsageWait = 10 * time.Second

// sinkRelayHeaders are the request headers relayed to the platform: the Standard Webhooks signature and
// what describes the body. Everything else (Host, the sidecar token, hop-by-hop headers) stays here.
var sinkRelayHeaders = []string{"Content-Type", "Content-Encoding", "Webhook-Id", "Webhook-Timestamp",
	"Webhook-Signature", "Traceparent", "Tracestate", "User-Agent", "Accept"}

// sinkRelayAnswerHeaders are the platform's answer headers passed back.
var sinkRelayAnswerHeaders = []string{"Content-Type", "Retry-After"}

// sinkRelay forwards the runner's sink requests to this run's sink on the platform, for a runner that has
// no other route to it (a sandbox without network): POST /sink/events, /sink/events/finalize and
// /sink/events/heartbeat go to APPSTRATE_SINK_URL, APPSTRATE_SINK_FINALIZE_URL and APPSTRATE_SINK_URL +
// "/heartbeat". The runner signs its requests with the run's sink secret and the platform checks them; the
// relay adds no authority, so it needs no sidecar token: it can reach nothing but this run's three sink
// endpoints.
//
// A finalize is relayed only once the usage of every LLM request the sidecar relayed has been reported
// (beforeFinalize): the platform computes the run's cost from those reports when the finalize arrives, and
// the runner finalizes as soon as it has read the last answer, before the sidecar has metered it.
type sinkRelay struct {
	events, finalize *url.URL // nil = not configured
	client           *http.Client
	beforeFinalize   func(context.Context) // nil = nothing to wait for
}

func newSinkRelay(events, finalize *url.URL) *sinkRelay {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the platform is reached directly, never through an environment proxy
	return &sinkRelay{events: events, finalize: finalize, client: &http.Client{
		Transport: t,
		Timeout:   sinkRelayTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a sink endpoint does not redirect; never follow one elsewhere
		},
	}}
}

// target is the platform URL of a relay path, nil when the path is not one of the three.
func (s *sinkRelay) target(path string) *url.URL {
	switch path {
	case "/sink/events":
		return s.events
	case "/sink/events/finalize":
		return s.finalize
	case "/sink/events/heartbeat":
		u := *s.events
		u.Path = strings.TrimSuffix(u.Path, "/") + "/heartbeat"
		u.RawPath = ""
		return &u
	}
	return nil
}

func (s *sinkRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.events == nil || s.finalize == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "sink relay not configured (APPSTRATE_SINK_URL, APPSTRATE_SINK_FINALIZE_URL)"})
		return
	}
	target := s.target(r.URL.Path)
	if target == nil || r.URL.RawQuery != "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not a sink endpoint: " + r.URL.Path})
		return
	}
	if target == s.finalize && s.beforeFinalize != nil {
		ctx, cancel := context.WithTimeout(r.Context(), finalizeUsageWait)
		s.beforeFinalize(ctx)
		cancel()
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, target.String(), r.Body)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "sink relay: " + err.Error()})
		return
	}
	req.ContentLength = r.ContentLength
	for _, h := range sinkRelayHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": "sink relay: platform unreachable (" + target.Host + ")"})
		return
	}
	defer resp.Body.Close()
	for _, h := range sinkRelayAnswerHeaders {
		if v := resp.Header.Values(h); len(v) > 0 {
			w.Header()[h] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, maxSinkRelayResponse))
}
