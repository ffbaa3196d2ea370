package httpapi

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// requestObservations feed the request metrics of the golden tests. testdata/metrics_http.golden is what
// client_golang v1.25 (CounterVec, HistogramVec and promhttp.HandlerFor with Registry set, the setup this file
// replaced) wrote for exactly these observations: it is the reference, never regenerated from this code.
var requestObservations = []struct {
	method, route string
	status        int
	elapsed       time.Duration
}{
	{"GET", "GET /health", 200, 400 * time.Microsecond},
	{"GET", "GET /health", 200, 2 * time.Millisecond},
	{"GET", "GET /health", 200, 2500 * time.Microsecond}, // on a bound: bounds are inclusive
	{"GET", "GET /health", 304, 10 * time.Millisecond},
	{"POST", "POST /api/orgs", 201, 300 * time.Millisecond},
	{"POST", "POST /api/orgs", 422, 45 * time.Second}, // above every bound: +Inf only
	{"GET", "unmatched", 404, 0},
	{"DELETE", "/api/", 401, time.Nanosecond},
	{"GET", "weird \"route\" \\ with\nnewline", 500, time.Second}, // label value escaping
	{"GET", "GET /health", 200, 30 * time.Second},
}

func scrape(t *testing.T, m *Metrics, target string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET %s = %d", target, rec.Code)
	}
	return rec
}

func TestMetricsRequestFamiliesMatchClientGolang(t *testing.T) {
	m := NewMetrics()
	for _, o := range requestObservations {
		m.ObserveRequest(o.method, o.route, o.status, o.elapsed)
	}
	rec := scrape(t, m, "/metrics?name[]=appstrate_http_requests_total&name[]=appstrate_http_request_duration_seconds"+
		"&name[]=promhttp_metric_handler_errors_total")
	want, err := os.ReadFile("testdata/metrics_http.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Body.String(); got != string(want) {
		t.Errorf("request metrics differ from client_golang's output\n got:\n%s\nwant:\n%s", got, want)
	}
	h := rec.Header()
	if h.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8; escaping=underscores" ||
		strings.Join(h.Values("Vary"), ",") != "Accept,Accept-Encoding" || h.Get("Content-Encoding") != "" {
		t.Errorf("headers: %v", h)
	}
}

var sampleLine = regexp.MustCompile(`^([a-z_]+)(\{.*\})? (\S+)$`)

// TestMetricsRuntimeFamiliesMatchClientGolang compares everything but the values with the families
// client_golang's Go and process collectors exposed (testdata/metrics_runtime.golden, values masked).
func TestMetricsRuntimeFamiliesMatchClientGolang(t *testing.T) {
	body := scrape(t, NewMetrics(), "/metrics").Body.String()
	var masked strings.Builder
	for line := range strings.Lines(body) {
		line = strings.TrimSuffix(line, "\n")
		if strings.Contains(line, "appstrate_") || strings.Contains(line, "promhttp_") {
			continue
		}
		if strings.HasPrefix(line, "#") {
			masked.WriteString(line + "\n")
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("malformed sample line %q", line)
		}
		if _, err := strconv.ParseFloat(m[3], 64); err != nil && m[3] != "+Inf" && m[3] != "NaN" {
			t.Errorf("value of %q: %v", line, err)
		}
		masked.WriteString(m[1] + strings.ReplaceAll(m[2], runtime.Version(), "<go version>") + " <value>\n")
	}
	want, err := os.ReadFile("testdata/metrics_runtime.golden")
	if err != nil {
		t.Fatal(err)
	}
	if masked.String() != string(want) {
		t.Errorf("runtime families differ from client_golang's\n got:\n%s\nwant:\n%s", masked.String(), want)
	}
}

// values parses an unlabelled exposition into name{labels} → value.
func values(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for line := range strings.Lines(body) {
		m := sampleLine.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

// TestMetricsRuntimeValues checks the values against what the runtime and the kernel say directly.
func TestMetricsRuntimeValues(t *testing.T) {
	runtime.GC()
	start := time.Now()
	v := values(t, scrape(t, NewMetrics(), "/metrics").Body.String())
	gogc := debug.SetGCPercent(100)
	debug.SetGCPercent(gogc)
	checks := []valueCheck{
		{"go_goroutines", func(x float64) bool { return x >= 1 }},
		{"go_threads", func(x float64) bool { return x >= 1 }},
		{`go_info{version="` + runtime.Version() + `"}`, func(x float64) bool { return x == 1 }},
		{"go_gc_duration_seconds_count", func(x float64) bool { return x >= 1 }},
		{`go_gc_duration_seconds{quantile="1"}`, func(x float64) bool { return x > 0 }},
		{"go_memstats_last_gc_time_seconds", func(x float64) bool {
			return x > float64(start.Add(-time.Hour).Unix()) && x <= float64(time.Now().Unix()+1)
		}},
		{"go_memstats_heap_alloc_bytes", func(x float64) bool { return x > 0 && x == v["go_memstats_alloc_bytes"] }},
		{"go_memstats_heap_sys_bytes", func(x float64) bool {
			return x == v["go_memstats_heap_inuse_bytes"]+v["go_memstats_heap_idle_bytes"]
		}},
		{"go_memstats_mallocs_total", func(x float64) bool { return x >= v["go_memstats_frees_total"] }},
		{"go_gc_gogc_percent", func(x float64) bool { return x == float64(gogc) }},
		{"go_sched_gomaxprocs_threads", func(x float64) bool { return x == float64(runtime.GOMAXPROCS(0)) }},
	}
	checkValues(t, v, checks)
}

type valueCheck struct {
	name string
	ok   func(float64) bool
}

func checkValues(t *testing.T, v map[string]float64, checks []valueCheck) {
	t.Helper()
	for _, c := range checks {
		x, ok := v[c.name]
		if !ok {
			t.Errorf("%s missing", c.name)
			continue
		}
		if !c.ok(x) {
			t.Errorf("%s = %v", c.name, x)
		}
	}
}

func TestMetricsEncodingNegotiation(t *testing.T) {
	m := NewMetrics()
	m.ObserveRequest("GET", "GET /health", 200, time.Millisecond)
	const filter = "/metrics?name[]=appstrate_http_requests_total"
	plain := scrape(t, m, filter).Body.String()
	for _, tc := range []struct {
		acceptEncoding string
		gzip           bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
		{"gzip;q=0", false},
		{"identity;q=1, gzip;q=0.5", false},
		{"*", false}, // a tie keeps identity
		{"*;q=0.5, identity;q=0.1", true},
		{"deflate", false},
		{"gzip;q=abc", false},
		{"gzip;q=2", false},
		{"gzip ; Q=0.7", true},
	} {
		t.Run(tc.acceptEncoding, func(t *testing.T) {
			rec := scrape(t, m, filter, "Accept-Encoding", tc.acceptEncoding)
			body := rec.Body.String()
			if tc.gzip {
				if rec.Header().Get("Content-Encoding") != "gzip" {
					t.Fatalf("Content-Encoding = %q, want gzip", rec.Header().Get("Content-Encoding"))
				}
				zr, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			} else if rec.Header().Get("Content-Encoding") != "" {
				t.Fatalf("Content-Encoding = %q, want none", rec.Header().Get("Content-Encoding"))
			}
			if body != plain {
				t.Fatalf("body %q, want %q", body, plain)
			}
		})
	}
}

func TestMetricsFirstScrapeHasNoRequestFamilies(t *testing.T) {
	body := scrape(t, NewMetrics(), "/metrics").Body.String()
	if strings.Contains(body, "appstrate_http") {
		t.Fatalf("families without samples are exposed:\n%s", body)
	}
	if !strings.Contains(body, `promhttp_metric_handler_errors_total{cause="encoding"} 0`) {
		t.Fatal("handler error counter missing")
	}
}

// failingWriter fails every write after the headers.
type failingWriter struct{ *httptest.ResponseRecorder }

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestMetricsCountsEncodingErrors(t *testing.T) {
	m := NewMetrics()
	m.Handler().ServeHTTP(failingWriter{httptest.NewRecorder()}, httptest.NewRequest("GET", "/metrics", nil))
	body := scrape(t, m, "/metrics?name[]=promhttp_metric_handler_errors_total").Body.String()
	if !strings.Contains(body, `promhttp_metric_handler_errors_total{cause="encoding"} 1`+"\n") {
		t.Fatalf("a failed write is not counted:\n%s", body)
	}
}

func TestMetricsConcurrentObservations(t *testing.T) {
	m := NewMetrics()
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				m.ObserveRequest("GET", "route"+strconv.Itoa(w%2), 200+i%2, time.Duration(i)*time.Millisecond)
				if i%100 == 0 {
					_ = scrape(t, m, "/metrics")
				}
			}
		})
	}
	wg.Wait()
	v := values(t, scrape(t, m, "/metrics").Body.String())
	var total float64
	for _, route := range []string{"route0", "route1"} {
		count := v[`appstrate_http_request_duration_seconds_count{method="GET",route="`+route+`"}`]
		inf := v[`appstrate_http_request_duration_seconds_bucket{method="GET",route="`+route+`",le="+Inf"}`]
		if count != workers/2*each || inf != count {
			t.Errorf("%s: count %v, +Inf bucket %v, want %d", route, count, inf, workers/2*each)
		}
		for _, status := range []string{"200", "201"} {
			total += v[`appstrate_http_requests_total{method="GET",route="`+route+`",status="`+status+`"}`]
		}
	}
	if total != workers*each {
		t.Errorf("requests counted %v, want %d", total, workers*each)
	}
}

func TestFormatFloat(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-1, "-1"}, {0.0025, "0.0025"}, {30, "30"}, {1e-9, "1e-09"}, {6.785224e+06, "6.785224e+06"},
		{9.223372036854776e+18, "9.223372036854776e+18"}, {123456, "123456"}, {1234567, "1.234567e+06"},
	} {
		if got := formatFloat(tc.in); got != tc.want {
			t.Errorf("formatFloat(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzPrefersGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "*;q=0.5, identity;q=0.1", "br;q=1.0, gzip;q=0.8", "gzip;q=NaN", ";;,,=q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		lower := strings.ToLower(header)
		if prefersGzip([]string{header}) && !strings.Contains(lower, "gzip") && !strings.Contains(lower, "*") {
			t.Fatalf("gzip chosen for %q", header)
		}
	})
}

// FuzzLabelValue checks that any label value stays on its line and reads back unchanged.
func FuzzLabelValue(f *testing.F) {
	for _, s := range []string{"GET /health", `a "quoted" \ value`, "two\nlines", `\n`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		var b strings.Builder
		w := bufio.NewWriter(&b)
		family{name: "x", typ: "gauge", help: value, samples: []sample{{labels: []label{{"l", value}}, value: 1}}}.writeText(w)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d lines for %q:\n%s", len(lines), value, b.String())
		}
		quoted, okPrefix := strings.CutPrefix(lines[2], `x{l="`)
		quoted, okSuffix := strings.CutSuffix(quoted, `"} 1`)
		if !okPrefix || !okSuffix {
			t.Fatalf("sample line %q", lines[2])
		}
		if got := unescapeLabelValue(quoted); got != value {
			t.Fatalf("read back %q, want %q", got, value)
		}
	})
}

// unescapeLabelValue reverses the exposition format's escaping (\\, \n, \").
func unescapeLabelValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
