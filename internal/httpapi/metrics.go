package httpapi

import (
	"bufio"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics counts the HTTP requests served and their latency, and serves them with the Go runtime and process
// metrics in the Prometheus text exposition format 0.0.4.
//
// The output is the one client_golang gave for the same metrics (a registry with these two vectors, its Go and
// process collectors, served by promhttp.HandlerFor): same names, types, help texts, labels, ordering and number
// formatting, so dashboards and alerts keep working. It is written here in a few hundred lines because
// client_golang, with protobuf and procfs behind it, cost megabytes of resident memory in an idle server.
// Differences: only the text format is offered (no protobuf or OpenMetrics negotiation), and process metrics are
// read on Linux only.
type Metrics struct {
	mu       sync.RWMutex
	requests map[requestKey]*atomic.Uint64
	latency  map[routeKey]*latencySeries

	encodingErrors atomic.Uint64 // responses that could not be written completely
	goRuntime      *runtimeStats
}

type requestKey struct{ method, route, status string }

type routeKey struct{ method, route string }

// latencyBuckets are the upper bounds (inclusive, in seconds) of appstrate_http_request_duration_seconds.
var latencyBuckets = [...]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// latencySeries is one histogram of the latency vector.
type latencySeries struct {
	mu     sync.Mutex
	counts [len(latencyBuckets) + 1]uint64 // per bucket (not cumulative); the last one is above every bound
	sum    float64
}

// NewMetrics creates empty request metrics, with the Go runtime and process metrics behind them.
func NewMetrics() *Metrics {
	return &Metrics{
		requests:  map[requestKey]*atomic.Uint64{},
		latency:   map[routeKey]*latencySeries{},
		goRuntime: newRuntimeStats(),
	}
}

// ObserveRequest records one request served: route is the matched pattern (or a fixed placeholder), status the
// code written, elapsed the time it took.
func (m *Metrics) ObserveRequest(method, route string, status int, elapsed time.Duration) {
	m.requestCounter(requestKey{method, route, strconv.Itoa(status)}).Add(1)
	m.latencySeries(routeKey{method, route}).observe(elapsed.Seconds())
}

func (m *Metrics) requestCounter(k requestKey) *atomic.Uint64 {
	m.mu.RLock()
	c := m.requests[k]
	m.mu.RUnlock()
	if c != nil {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c = m.requests[k]; c == nil {
		c = new(atomic.Uint64)
		m.requests[k] = c
	}
	return c
}

func (m *Metrics) latencySeries(k routeKey) *latencySeries {
	m.mu.RLock()
	s := m.latency[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.latency[k]; s == nil {
		s = &latencySeries{}
		m.latency[k] = s
	}
	return s
}

func (s *latencySeries) observe(seconds float64) {
	i, _ := slices.BinarySearch(latencyBuckets[:], seconds) // first bound >= seconds: bounds are inclusive
	s.mu.Lock()
	s.counts[i]++
	s.sum += seconds
	s.mu.Unlock()
}

// textContentType is the Content-Type of the exposition, as promhttp announced it.
const textContentType = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"

// Handler serves the metrics: gzip-compressed when the client prefers it, only the families named by name[]
// query parameters when there are some.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		families := m.gather()
		if names := r.URL.Query()["name[]"]; len(names) > 0 {
			families = slices.DeleteFunc(families, func(f family) bool { return !slices.Contains(names, f.name) })
		}
		h := w.Header()
		h.Add("Vary", "Accept")
		h.Add("Vary", "Accept-Encoding")
		h.Set("Content-Type", textContentType)
		var out io.Writer = w
		if prefersGzip(r.Header.Values("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			defer func() {
				if err := gz.Close(); err != nil {
					m.encodingErrors.Add(1)
				}
			}()
			out = gz
		}
		bw := bufio.NewWriter(out)
		for _, f := range families {
			f.writeText(bw)
		}
		if err := bw.Flush(); err != nil {
			m.encodingErrors.Add(1)
		}
	})
}

// gather snapshots every family with at least one sample, sorted by name.
func (m *Metrics) gather() []family {
	fams := m.httpFamilies()
	fams = append(fams, m.goRuntime.families()...)
	fams = append(fams, processFamilies()...)
	fams = append(fams, family{name: "promhttp_metric_handler_errors_total", typ: "counter",
		help: "Total number of internal errors encountered by the promhttp metric handler.",
		samples: []sample{
			{labels: []label{{"cause", "encoding"}}, value: float64(m.encodingErrors.Load())},
			// Gathering cannot fail: unreadable process statistics are left out, as promhttp did by default.
			{labels: []label{{"cause", "gathering"}}, value: 0},
		}})
	fams = slices.DeleteFunc(fams, func(f family) bool { return len(f.samples) == 0 })
	slices.SortFunc(fams, func(a, b family) int { return strings.Compare(a.name, b.name) })
	return fams
}

func (m *Metrics) httpFamilies() []family {
	type counterSeries struct {
		key requestKey
		n   *atomic.Uint64
	}
	type histogramSeries struct {
		key routeKey
		h   *latencySeries
	}
	m.mu.RLock()
	counters := make([]counterSeries, 0, len(m.requests))
	for k, n := range m.requests {
		counters = append(counters, counterSeries{k, n})
	}
	histograms := make([]histogramSeries, 0, len(m.latency))
	for k, h := range m.latency {
		histograms = append(histograms, histogramSeries{k, h})
	}
	m.mu.RUnlock()
	// Series are ordered by their label values, compared in label-name order.
	slices.SortFunc(counters, func(a, b counterSeries) int {
		return cmpStrings(a.key.method, b.key.method, a.key.route, b.key.route, a.key.status, b.key.status)
	})
	slices.SortFunc(histograms, func(a, b histogramSeries) int {
		return cmpStrings(a.key.method, b.key.method, a.key.route, b.key.route)
	})

	requests := family{name: "appstrate_http_requests_total", typ: "counter",
		help: "HTTP requests served, by method, route pattern and status code."}
	for _, c := range counters {
		requests.samples = append(requests.samples, sample{
			labels: []label{{"method", c.key.method}, {"route", c.key.route}, {"status", c.key.status}},
			value:  float64(c.n.Load()),
		})
	}
	latency := family{name: "appstrate_http_request_duration_seconds", typ: "histogram",
		help: "HTTP request latency, by method and route pattern."}
	for _, s := range histograms {
		latency.samples = s.h.appendSamples(latency.samples, []label{{"method", s.key.method}, {"route", s.key.route}})
	}
	return []family{requests, latency}
}

// appendSamples adds the cumulative buckets, the sum and the count of one histogram, read at one instant.
func (s *latencySeries) appendSamples(out []sample, labels []label) []sample {
	s.mu.Lock()
	counts, sum := s.counts, s.sum
	s.mu.Unlock()
	var cumulative uint64
	for i, n := range counts {
		cumulative += n
		bound := math.Inf(1)
		if i < len(latencyBuckets) {
			bound = latencyBuckets[i]
		}
		out = append(out, sample{suffix: "_bucket", labels: withLabel(labels, "le", formatFloat(bound)), value: float64(cumulative)})
	}
	return append(out,
		sample{suffix: "_sum", labels: labels, value: sum},
		sample{suffix: "_count", labels: labels, value: float64(cumulative)})
}

// cmpStrings compares pairs (a1, b1, a2, b2, ...) in order.
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// family is one metric family of the exposition.
type family struct {
	name, help, typ string // typ: counter, gauge, summary or histogram
	samples         []sample
}

// sample is one line: the family name plus suffix (_bucket, _sum, _count or none), labels and value.
type sample struct {
	suffix string
	labels []label
	value  float64
}

type label struct{ name, value string }

// withLabel returns labels plus one more, without sharing the backing array.
func withLabel(labels []label, name, value string) []label {
	return append(slices.Clip(labels), label{name, value})
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// writeText writes the family in the text format 0.0.4. Write errors surface at the final Flush.
func (f family) writeText(w *bufio.Writer) {
	_, _ = w.WriteString("# HELP " + f.name + " ")
	_, _ = helpEscaper.WriteString(w, f.help)
	_, _ = w.WriteString("\n# TYPE " + f.name + " " + f.typ + "\n")
	for _, s := range f.samples {
		_, _ = w.WriteString(f.name + s.suffix)
		for i, l := range s.labels {
			if i == 0 {
				_ = w.WriteByte('{')
			} else {
				_ = w.WriteByte(',')
			}
			_, _ = w.WriteString(l.name + `="`)
			_, _ = valueEscaper.WriteString(w, l.value)
			_ = w.WriteByte('"')
		}
		if len(s.labels) > 0 {
			_ = w.WriteByte('}')
		}
		_ = w.WriteByte(' ')
		_, _ = w.WriteString(formatFloat(s.value))
		_ = w.WriteByte('\n')
	}
}

// formatFloat formats a value or a bound as the exposition format does: shortest representation, exponent
// form for large and small magnitudes, +Inf/-Inf/NaN spelled out.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// prefersGzip negotiates the Content-Encoding between identity and gzip from Accept-Encoding (RFC 9110
// §12.5.3): a coding's weight is the one given to it, else the one of "*", else absent; gzip is chosen when its
// weight is positive and higher than identity's. Ties and unparsable weights keep identity.
func prefersGzip(acceptEncoding []string) bool {
	gzipQ, identityQ, anyQ := -1.0, -1.0, -1.0
	for _, header := range acceptEncoding {
		for part := range strings.SplitSeq(header, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q, ok := qualityOf(params)
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip":
				gzipQ = max(gzipQ, q)
			case "identity":
				identityQ = max(identityQ, q)
			case "*":
				anyQ = max(anyQ, q)
			}
		}
	}
	if gzipQ < 0 {
		gzipQ = anyQ
	}
	if identityQ < 0 {
		identityQ = anyQ
	}
	return gzipQ > 0 && gzipQ > identityQ
}

// qualityOf reads the q parameter of one Accept-Encoding element (1 when absent); ok is false when it is not a
// number between 0 and 1.
func qualityOf(params string) (q float64, ok bool) {
	q = 1
	for p := range strings.SplitSeq(params, ";") {
		name, value, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || v < 0 || v > 1 || math.IsNaN(v) {
			return 0, false
		}
		q = v
	}
	return q, true
}
