package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/webhooks"
)

// verifyStandardWebhook checks a request as a receiver implementing the Standard Webhooks specification
// would, written from the spec and API.md §3.7 without the platform's code: the three headers are present,
// the timestamp is within 5 minutes of now, and one of the space-separated `v1,<base64>` signatures equals
// base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")), key being the base64url decoding of
// the secret after "whsec_".
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, header := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || header == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %v", ts, err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %d is %s away from now", sec, d)
	}
	encoded, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return errors.New("secret without whsec_")
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(encoded, "="))
	if err != nil {
		return fmt.Errorf("secret: %v", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, part := range strings.Split(header, " ") {
		version, sig, _ := strings.Cut(part, ",")
		if version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// received is one request a receiver got.
type received struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint on the loopback interface. /status/NNN answers NNN, /redirect a 302 to
// redirectTo, anything else the current status (200 by default).
type receiver struct {
	srv        *httptest.Server
	status     atomic.Int32
	redirectTo string
	mu         sync.Mutex
	got        []received
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.status.Store(200)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{path: req.URL.Path, header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		switch {
		case strings.HasPrefix(req.URL.Path, "/status/"):
			code, _ := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/status/"))
			w.WriteHeader(code)
		case req.URL.Path == "/redirect":
			http.Redirect(w, req, r.redirectTo, http.StatusFound)
		default:
			w.WriteHeader(int(r.status.Load()))
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url(path string) string { return r.srv.URL + path }

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// wait returns the requests once there are at least n of them matching keep (nil = all).
func (r *receiver) wait(t *testing.T, n int, keep func(received) bool) []received {
	t.Helper()
	var out []received
	eventually(t, fmt.Sprintf("%d requests", n), func() bool {
		out = out[:0]
		for _, req := range r.requests() {
			if keep == nil || keep(req) {
				out = append(out, req)
			}
		}
		return len(out) >= n
	})
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startJobs creates River's tables and starts the app's job client; the returned function stops it (also
// called at cleanup).
func startJobs(t *testing.T, e *apptest.Env) (stop func()) {
	t.Helper()
	if err := jobs.Migrate(context.Background(), e.DB, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := e.App.Jobs.Stop(ctx); err != nil {
				t.Errorf("stop jobs: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// deliveryJobs lists the delivery jobs of webhook id.
func deliveryJobs(t *testing.T, e *apptest.Env, webhookID string) []*rivertype.JobRow {
	t.Helper()
	res, err := e.App.Jobs.River().JobList(context.Background(), river.NewJobListParams().Kinds(webhooks.DeliveryKind).First(1000))
	if err != nil {
		t.Fatal(err)
	}
	var out []*rivertype.JobRow
	for _, j := range res.Jobs {
		var a webhooks.DeliveryArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err == nil && a.WebhookID == webhookID {
			out = append(out, j)
		}
	}
	return out
}

// waitJob waits until webhook id has exactly one delivery job and it satisfies cond.
func waitJob(t *testing.T, e *apptest.Env, webhookID, what string, cond func(*rivertype.JobRow) bool) *rivertype.JobRow {
	t.Helper()
	var job *rivertype.JobRow
	eventually(t, what, func() bool {
		list := deliveryJobs(t, e, webhookID)
		if len(list) != 1 {
			return false
		}
		job = list[0]
		return cond(job)
	})
	return job
}

func settled(attempt int) func(*rivertype.JobRow) bool {
	return func(j *rivertype.JobRow) bool {
		return j.Attempt == attempt && j.State != rivertype.JobStateAvailable && j.State != rivertype.JobStateRunning
	}
}

// runObject is a run as the runs service will publish it.
func runObject(pkg, status string) map[string]any {
	return map[string]any{"object": "run", "id": ids.New(ids.Run), "packageId": pkg, "status": status, "duration": 1234,
		"input": map[string]any{"q": "hi"}, "result": map[string]any{"output": "done"}, "error": nil}
}

func publish(t *testing.T, e *apptest.Env, q store.Querier, org, app, pkg, typ string) webhooks.Published {
	t.Helper()
	p, err := e.App.Webhooks.Publish(context.Background(), q, webhooks.Event{OrgID: org, AppID: app, PackageID: pkg, Type: typ,
		Object: runObject(pkg, strings.TrimPrefix(typ, "run."))})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return p
}

type deliveryWire struct {
	ID         string  `json:"id"`
	EventID    string  `json:"eventId"`
	EventType  string  `json:"eventType"`
	Status     string  `json:"status"`
	StatusCode *int    `json:"statusCode"`
	Latency    *int64  `json:"latency"`
	Attempt    int     `json:"attempt"`
	Error      *string `json:"error"`
	CreatedAt  string  `json:"createdAt"`
}

func listDeliveries(t *testing.T, e *apptest.Env, h http.Header, webhookID, query string) []deliveryWire {
	t.Helper()
	res := e.Do(apptest.Request{Method: "GET", Path: "/api/webhooks/" + webhookID + "/deliveries" + query, Headers: h})
	if res.Status != 200 {
		t.Fatalf("deliveries: %d %s", res.Status, res.Body)
	}
	var l struct {
		Object string
		Data   []deliveryWire
	}
	res.JSON(t, &l)
	return l.Data
}

func TestPublishMatching(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		if err := jobs.Migrate(context.Background(), e.DB, nil); err != nil {
			t.Fatal(err)
		}
		const url = "https://hooks.example.com/in"
		orgSuccess := w.create(t, w.asOwner(), orgHook(url, "run.success"))
		appBoth := w.create(t, w.asOwner(), appHook(w.app, url, "run.success", "run.failed"))
		app2Success := w.create(t, w.asOwner(), appHook(w.app2, url, "run.success"))
		filtered := orgHook(url, "run.success")
		filtered["packageId"] = "@acme/other"
		pkgOther := w.create(t, w.asOwner(), filtered)
		disabled := orgHook(url, "run.success")
		disabled["enabled"] = false
		w.create(t, w.asOwner(), disabled)
		orgStarted := w.create(t, w.asOwner(), orgHook(url, "run.started"))
		w.create(t, w.asOther(), orgHook(url, "run.success"))

		tests := []struct {
			name, app, pkg, typ string
			want                []string
		}{
			{"org-level and the app's own", w.app, "@acme/hello-world", "run.success", []string{orgSuccess.ID, appBoth.ID}},
			{"package filter", w.app2, "@acme/other", "run.success", []string{orgSuccess.ID, app2Success.ID, pkgOther.ID}},
			{"event type", w.app, "@acme/hello-world", "run.failed", []string{appBoth.ID}},
			{"started", w.app2, "@acme/hello-world", "run.started", []string{orgStarted.ID}},
			{"no subscriber", w.app, "@acme/hello-world", "run.timeout", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := publish(t, e, e.DB, w.org, tt.app, tt.pkg, tt.typ)
				got := slices.Sorted(slices.Values(p.Webhooks))
				want := slices.Sorted(slices.Values(tt.want))
				if !slices.Equal(got, want) {
					t.Fatalf("published to %v, want %v", got, want)
				}
				if (p.EventID != "") != (len(want) > 0) || (p.EventID != "" && !ids.Valid(p.EventID, ids.Event)) {
					t.Fatalf("event id %q", p.EventID)
				}
				for _, id := range want {
					if n := len(deliveryJobs(t, e, id)); n == 0 {
						t.Fatalf("no job for %s", id)
					}
				}
			})
		}
		// A rolled-back transaction leaves no delivery.
		before := len(deliveryJobs(t, e, orgStarted.ID))
		errRollback := errors.New("rollback")
		err := e.DB.InTx(context.Background(), func(tx *store.Tx) error {
			if p := publish(t, e, tx, w.org, w.app, "@acme/hello-world", "run.started"); len(p.Webhooks) != 1 {
				t.Errorf("published %v", p.Webhooks)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) || len(deliveryJobs(t, e, orgStarted.ID)) != before {
			t.Fatalf("rolled back publish: %v, %d jobs", err, len(deliveryJobs(t, e, orgStarted.ID)))
		}
		if _, err := e.App.Webhooks.Publish(context.Background(), e.DB, webhooks.Event{OrgID: w.org, Type: "test.ping", Object: map[string]any{}}); err == nil {
			t.Fatal("publishing test.ping succeeded")
		}
	})
}

func TestDeliverySignedEnvelope(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		startJobs(t, e)
		r := newReceiver(t)
		full := w.create(t, w.asOwner(), orgHook(r.url("/full"), "run.success"))
		summary := appHook(w.app, r.url("/summary"), "run.success")
		summary["payloadMode"] = "summary"
		sum := w.create(t, w.asOwner(), summary)
		p := publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.success")

		got := r.wait(t, 2, nil)
		byPath := map[string]received{}
		for _, req := range got {
			byPath[req.path] = req
		}
		for path, secret := range map[string]string{"/full": full.Secret, "/summary": sum.Secret} {
			req, ok := byPath[path]
			if !ok {
				t.Fatalf("nothing delivered to %s", path)
			}
			if err := verifyStandardWebhook(secret, req.header, req.body, time.Now()); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			other := map[string]string{"/full": sum.Secret, "/summary": full.Secret}[path]
			if verifyStandardWebhook(other, req.header, req.body, time.Now()) == nil {
				t.Fatalf("%s verifies with another webhook's secret", path)
			}
			if req.header.Get("webhook-id") != p.EventID || req.header.Get("webhook-attempt") != "1" ||
				req.header.Get("Content-Type") != "application/json" || len(strings.Fields(req.header.Get("webhook-signature"))) != 1 {
				t.Fatalf("%s headers: %v", path, req.header)
			}
			var env struct {
				ID, Object, Type, APIVersion string
				Created                      int64
				Data                         struct{ Object map[string]any }
			}
			if err := json.Unmarshal(req.body, &env); err != nil {
				t.Fatal(err)
			}
			if env.ID != p.EventID || env.Object != "event" || env.Type != "run.success" || env.APIVersion != "2026-03-21" ||
				time.Since(time.Unix(env.Created, 0)) > time.Minute || env.Data.Object["object"] != "run" ||
				env.Data.Object["packageId"] != "@acme/hello-world" || env.Data.Object["status"] != "success" {
				t.Fatalf("%s envelope: %s", path, req.body)
			}
			_, hasResult := env.Data.Object["result"]
			_, hasInput := env.Data.Object["input"]
			if want := path == "/full"; hasResult != want || hasInput != want {
				t.Fatalf("%s: result %v input %v", path, hasResult, hasInput)
			}
		}
		eventually(t, "the attempt recorded", func() bool {
			d := listDeliveries(t, e, w.asOwner(), full.ID, "")
			return len(d) == 1 && d[0].Status == "success"
		})
		d := listDeliveries(t, e, w.asOwner(), full.ID, "")[0]
		if d.EventID != p.EventID || d.EventType != "run.success" || d.StatusCode == nil || *d.StatusCode != 200 || d.Attempt != 1 ||
			d.Latency == nil || d.Error != nil || !ids.ValidUUID(d.ID) || d.CreatedAt == "" {
			t.Fatalf("delivery %+v", d)
		}
		waitJob(t, e, full.ID, "job completed", func(j *rivertype.JobRow) bool { return j.State == rivertype.JobStateCompleted })

		// The test route really delivers, even to a disabled webhook, once.
		res := e.Do(apptest.Request{Method: "PUT", Path: "/api/webhooks/" + full.ID, Headers: w.asOwner(), Body: map[string]any{"enabled": false}})
		if res.Status != 200 {
			t.Fatalf("disable: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks/" + full.ID + "/test", Headers: w.asOwner()})
		var ping struct {
			EventID string          `json:"eventId"`
			Payload json.RawMessage `json:"payload"`
		}
		res.JSON(t, &ping)
		if res.Status != 200 || !ids.Valid(ping.EventID, ids.Event) {
			t.Fatalf("test: %d %s", res.Status, res.Body)
		}
		pings := r.wait(t, 1, func(req received) bool { return req.header.Get("webhook-id") == ping.EventID })
		if err := verifyStandardWebhook(full.Secret, pings[0].header, pings[0].body, time.Now()); err != nil {
			t.Fatal(err)
		}
		var sent, shown map[string]any
		_ = json.Unmarshal(pings[0].body, &sent)
		_ = json.Unmarshal(ping.Payload, &shown)
		if sent["type"] != "test.ping" || fmt.Sprint(sent) != fmt.Sprint(shown) {
			t.Fatalf("delivered %s, shown %s", pings[0].body, ping.Payload)
		}
		eventually(t, "the ping recorded", func() bool {
			d := listDeliveries(t, e, w.asOwner(), full.ID, "?limit=1")
			return len(d) == 1 && d[0].EventType == "test.ping" && d[0].Status == "success"
		})
		if j := deliveryJobs(t, e, full.ID); len(j) != 2 || j[1].MaxAttempts != 1 {
			t.Fatalf("test ping job: %+v", j)
		}
		// Disabled: run events are not published to it any more.
		if p := publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.success"); slices.Contains(p.Webhooks, full.ID) {
			t.Fatal("a disabled webhook was published to")
		}
	})
}

// clock is a settable offset from the real time, read by the webhook service.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func TestRotationDualSignature(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		var c clock
		e.App.Webhooks.Now = c.now
		startJobs(t, e)
		r := newReceiver(t)
		hook := w.create(t, w.asOwner(), orgHook(r.url("/in"), "run.success"))
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks/" + hook.ID + "/rotate", Headers: w.asOwner()})
		var rot struct{ Secret, SecretPrevious, RotationWindowEndsAt string }
		res.JSON(t, &rot)
		if res.Status != 200 || rot.SecretPrevious != hook.Secret {
			t.Fatalf("rotate: %d %s", res.Status, res.Body)
		}

		p := publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.success")
		req := r.wait(t, 1, func(req received) bool { return req.header.Get("webhook-id") == p.EventID })[0]
		if n := len(strings.Fields(req.header.Get("webhook-signature"))); n != 2 {
			t.Fatalf("%d signatures during the window: %q", n, req.header.Get("webhook-signature"))
		}
		for name, secret := range map[string]string{"previous": hook.Secret, "new": rot.Secret} {
			if err := verifyStandardWebhook(secret, req.header, req.body, c.now()); err != nil {
				t.Fatalf("the %s secret does not verify during the window: %v", name, err)
			}
		}

		// After the window, the next delivery promotes the new secret and signs with it alone.
		c.advance(7*24*time.Hour + time.Minute)
		p = publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.success")
		req = r.wait(t, 1, func(req received) bool { return req.header.Get("webhook-id") == p.EventID })[0]
		if n := len(strings.Fields(req.header.Get("webhook-signature"))); n != 1 {
			t.Fatalf("%d signatures after the window", n)
		}
		if err := verifyStandardWebhook(rot.Secret, req.header, req.body, c.now()); err != nil {
			t.Fatalf("the new secret does not verify: %v", err)
		}
		if verifyStandardWebhook(hook.Secret, req.header, req.body, c.now()) == nil {
			t.Fatal("the previous secret still verifies after the window")
		}
		var next *string
		if err := e.DB.QueryRowContext(context.Background(), `SELECT secret_next_encrypted FROM webhooks WHERE id = ?`, hook.ID).Scan(&next); err != nil || next != nil {
			t.Fatalf("pending secret after promotion: %v %v", next, err)
		}
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks/" + hook.ID + "/rotate", Headers: w.asOwner()})
		res.JSON(t, &rot)
		if prev := rot.SecretPrevious; res.Status != 200 || prev == hook.Secret {
			t.Fatalf("rotation after promotion: %d %s", res.Status, res.Body)
		}
	})
}

func TestRetrySchedule(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		startJobs(t, e)
		r := newReceiver(t)
		hook := w.create(t, w.asOwner(), orgHook(r.url("/status/500"), "run.failed"))
		p := publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.failed")
		for attempt := 1; attempt <= webhooks.MaxAttempts; attempt++ {
			job := waitJob(t, e, hook.ID, fmt.Sprintf("attempt %d to fail", attempt), settled(attempt))
			if job.MaxAttempts != 8 {
				t.Fatalf("max attempts %d", job.MaxAttempts)
			}
			reqs := r.requests()
			if len(reqs) != attempt {
				t.Fatalf("%d requests after attempt %d", len(reqs), attempt)
			}
			last := reqs[attempt-1]
			if last.header.Get("webhook-attempt") != strconv.Itoa(attempt) || last.header.Get("webhook-id") != p.EventID ||
				string(last.body) != string(reqs[0].body) {
				t.Fatalf("attempt %d sent %v %s", attempt, last.header, last.body)
			}
			if err := verifyStandardWebhook(hook.Secret, last.header, last.body, time.Now()); err != nil {
				t.Fatalf("attempt %d: %v", attempt, err)
			}
			if attempt == webhooks.MaxAttempts {
				if job.State != rivertype.JobStateDiscarded {
					t.Fatalf("after the last attempt the job is %s", job.State)
				}
				break
			}
			if job.State != rivertype.JobStateRetryable || job.AttemptedAt == nil {
				t.Fatalf("after attempt %d the job is %s", attempt, job.State)
			}
			delay := job.ScheduledAt.Sub(*job.AttemptedAt)
			if want := webhooks.RetryDelays[attempt-1]; delay < want-time.Second || delay > want+time.Second {
				t.Fatalf("attempt %d: retry scheduled %s after the attempt, want %s", attempt, delay, want)
			}
			// Instead of waiting for the delay: make the job due now.
			if _, err := e.App.Jobs.River().JobRetry(context.Background(), job.ID); err != nil {
				t.Fatal(err)
			}
		}
		var d []deliveryWire
		eventually(t, "8 recorded attempts", func() bool {
			d = listDeliveries(t, e, w.asOwner(), hook.ID, "")
			return len(d) == 8 && d[0].Status != "pending"
		})
		for i, row := range d {
			if row.Attempt != 8-i || row.Status != "failed" || row.StatusCode == nil || *row.StatusCode != 500 || row.Error == nil ||
				row.EventID != p.EventID {
				t.Fatalf("delivery %d: %+v", i, row)
			}
		}
		if got := listDeliveries(t, e, w.asOwner(), hook.ID, "?limit=3"); len(got) != 3 || got[0].Attempt != 8 {
			t.Fatalf("limit 3: %+v", got)
		}
	})
}

// fakeTime is a frozen clock that only the test moves, shared by the webhook service (signatures, retry
// schedule) and River (attempt times, due jobs): a rivertype.TimeGenerator.
type fakeTime struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) NowOrNil() *time.Time {
	now := f.Now()
	return &now
}

func (f *fakeTime) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// TestRetryDelaysOnAFakeClock: a receiver that keeps failing sees the 8 attempts of one event at the
// specified delays — 30 s, 5 min, 30 min, 1 h, 2 h, 3 h, 4 h — on a clock the test moves: each attempt's
// webhook-timestamp is exactly the previous one plus its delay, every retry is scheduled exactly that long
// after its failed attempt, and the first retry comes through River's own scheduler once the clock reaches
// it (the later ones are made due at their time instead of waiting for the scheduler's next round).
func TestRetryDelaysOnAFakeClock(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		clock := &fakeTime{now: time.Now().Add(time.Hour).Truncate(time.Second)} // ahead of the real time
		e.App.Webhooks.Now = clock.Now
		if err := jobs.Migrate(context.Background(), e.DB, nil); err != nil {
			t.Fatal(err)
		}
		jc := jobs.New(e.DB, jobs.Options{Time: clock, FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond})
		if err := e.App.Webhooks.RegisterWorker(jc); err != nil {
			t.Fatal(err)
		}
		if err := jc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_ = jc.Stop(ctx)
		})
		r := newReceiver(t)
		hook := w.create(t, w.asOwner(), orgHook(r.url("/status/503"), "run.failed"))
		p := publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.failed")

		// API.md §3.7, written out rather than read from the package under test.
		delays := []time.Duration{30 * time.Second, 5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour}
		var previous time.Time
		for attempt := 1; attempt <= 8; attempt++ {
			req := r.wait(t, attempt, nil)[attempt-1]
			if err := verifyStandardWebhook(hook.Secret, req.header, req.body, clock.Now()); err != nil {
				t.Fatalf("attempt %d: %v", attempt, err)
			}
			sec, _ := strconv.ParseInt(req.header.Get("webhook-timestamp"), 10, 64)
			sent := time.Unix(sec, 0)
			if req.header.Get("webhook-attempt") != strconv.Itoa(attempt) || req.header.Get("webhook-id") != p.EventID || !sent.Equal(clock.Now()) {
				t.Fatalf("attempt %d: %v (clock %s)", attempt, req.header, clock.Now())
			}
			if attempt > 1 {
				if got, want := sent.Sub(previous), delays[attempt-2]; got != want {
					t.Fatalf("attempt %d came %s after attempt %d, want %s", attempt, got, attempt-1, want)
				}
			}
			previous = sent
			job := waitJob(t, e, hook.ID, fmt.Sprintf("attempt %d to fail", attempt), settled(attempt))
			if attempt == 8 {
				if job.State != rivertype.JobStateDiscarded {
					t.Fatalf("after the last attempt the job is %s", job.State)
				}
				break
			}
			delay := delays[attempt-1]
			if job.State != rivertype.JobStateRetryable || job.AttemptedAt == nil || !job.AttemptedAt.Equal(sent) ||
				!job.ScheduledAt.Equal(sent.Add(delay)) {
				t.Fatalf("after attempt %d: job %s, attempted %v, scheduled %s, want %s", attempt, job.State, job.AttemptedAt,
					job.ScheduledAt, sent.Add(delay))
			}
			clock.advance(delay)
			if attempt > 1 {
				if _, err := jc.River().JobRetry(context.Background(), job.ID); err != nil { // due now, as scheduled
					t.Fatal(err)
				}
			}
		}
		if n := len(r.requests()); n != 8 {
			t.Fatalf("%d requests", n)
		}
	})
}

func TestFailureClasses(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		startJobs(t, e)
		r := newReceiver(t)
		target := newReceiver(t)
		r.redirectTo = target.url("/elsewhere")
		tests := []struct {
			path  string
			code  int
			state rivertype.JobState
		}{
			{"/status/400", 400, rivertype.JobStateCancelled},
			{"/status/401", 401, rivertype.JobStateCancelled},
			{"/status/404", 404, rivertype.JobStateCancelled},
			{"/status/410", 410, rivertype.JobStateCancelled},
			{"/status/408", 408, rivertype.JobStateRetryable},
			{"/status/429", 429, rivertype.JobStateRetryable},
			{"/status/500", 500, rivertype.JobStateRetryable},
			{"/status/503", 503, rivertype.JobStateRetryable},
			{"/redirect", 302, rivertype.JobStateRetryable},
		}
		hooks := make([]wire, len(tests))
		for i, tt := range tests {
			hooks[i] = w.create(t, w.newAdmin(), orgHook(r.url(tt.path), "run.success"))
		}
		publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.success")
		for i, tt := range tests {
			t.Run(tt.path, func(t *testing.T) {
				job := waitJob(t, e, hooks[i].ID, "attempt 1", settled(1))
				if job.State != tt.state {
					t.Fatalf("HTTP %d: job %s, want %s", tt.code, job.State, tt.state)
				}
				var d []deliveryWire
				eventually(t, "recorded", func() bool {
					d = listDeliveries(t, e, w.asOwner(), hooks[i].ID, "")
					return len(d) == 1 && d[0].Status != "pending"
				})
				if d[0].Status != "failed" || d[0].StatusCode == nil || *d[0].StatusCode != tt.code || d[0].Error == nil {
					t.Fatalf("delivery %+v", d[0])
				}
			})
		}
		if n := len(target.requests()); n != 0 {
			t.Fatalf("the redirect was followed (%d requests)", n)
		}
	})
}

// resolver answers from a fixed table (no DNS).
type resolver map[string]string

func (r resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, fmt.Errorf("no such host %s", host)
}

func TestInternalAddressRefusedAtDelivery(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		// Names pass the creation rules; their addresses are checked when the delivery connects.
		e.App.Webhooks.Guard.Resolver = resolver{"hooks.example.com": "10.0.0.7", "rebind.example.com": "127.0.0.1",
			"meta.example.com": "169.254.169.254", "v6.example.com": "fd12::1"}
		startJobs(t, e)
		tests := []struct{ host, reason string }{
			{"hooks.example.com", "private"},
			{"rebind.example.com", "loopback"}, // loopback is reachable only through localhost URLs outside production
			{"meta.example.com", "address"},
			{"v6.example.com", "private"},
		}
		hooks := make([]wire, len(tests))
		for i, tt := range tests {
			hooks[i] = w.create(t, w.asOwner(), orgHook("https://"+tt.host+"/in", "run.success"))
		}
		publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.success")
		for i, tt := range tests {
			t.Run(tt.host, func(t *testing.T) {
				job := waitJob(t, e, hooks[i].ID, "attempt 1", settled(1))
				if job.State != rivertype.JobStateCancelled {
					t.Fatalf("job %s, want cancelled", job.State)
				}
				d := listDeliveries(t, e, w.asOwner(), hooks[i].ID, "")
				if len(d) != 1 || d[0].Status != "failed" || d[0].StatusCode != nil || d[0].Error == nil ||
					!strings.Contains(*d[0].Error, "destination refused") || !strings.Contains(*d[0].Error, tt.reason) {
					t.Fatalf("delivery %+v (error %v)", d, func() string {
						if len(d) > 0 && d[0].Error != nil {
							return *d[0].Error
						}
						return ""
					}())
				}
			})
		}
	})
}

// A delivery pending when the platform stops is delivered by the next platform on the same database: one
// that was never attempted, and one waiting for its retry.
func TestDeliverySurvivesRestart(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		stop := startJobs(t, e)
		r := newReceiver(t)
		r.status.Store(503)
		hook := w.create(t, w.asOwner(), orgHook(r.url("/in"), "run.success"))
		retried := publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.success")
		job := waitJob(t, e, hook.ID, "attempt 1 to fail", settled(1))
		if job.State != rivertype.JobStateRetryable {
			t.Fatalf("job %s", job.State)
		}
		stop()
		fresh := publish(t, e, e.DB, w.org, w.app, "@acme/hello-world", "run.success") // queued while nothing works jobs
		r.status.Store(200)

		// A second platform over the same database and secrets (same DATA_DIR).
		e2 := apptest.New(t, e.DB, map[string]string{"DATA_DIR": e.Config.DataDir})
		startJobs(t, e2)
		got := r.wait(t, 1, func(req received) bool { return req.header.Get("webhook-id") == fresh.EventID })
		if err := verifyStandardWebhook(hook.Secret, got[0].header, got[0].body, time.Now()); err != nil {
			t.Fatal(err)
		}
		list := deliveryJobs(t, e2, hook.ID)
		var pending *rivertype.JobRow
		for _, j := range list {
			if j.State == rivertype.JobStateRetryable {
				pending = j
			}
		}
		if pending == nil {
			t.Fatalf("no retryable job among %d", len(list))
		}
		if _, err := e2.App.Jobs.River().JobRetry(context.Background(), pending.ID); err != nil { // its 30 s are over
			t.Fatal(err)
		}
		got = r.wait(t, 2, func(req received) bool { return req.header.Get("webhook-id") == retried.EventID })
		if got[1].header.Get("webhook-attempt") != "2" || string(got[1].body) != string(got[0].body) {
			t.Fatalf("retry after restart: %v", got[1].header)
		}
		if err := verifyStandardWebhook(hook.Secret, got[1].header, got[1].body, time.Now()); err != nil {
			t.Fatal(err)
		}
		eventually(t, "3 recorded attempts", func() bool {
			d := listDeliveries(t, e2, w.asOwner(), hook.ID, "")
			if len(d) != 3 {
				return false
			}
			byEvent := map[string][]string{}
			for _, row := range d {
				byEvent[row.EventID] = append(byEvent[row.EventID], fmt.Sprintf("%d:%s", row.Attempt, row.Status))
			}
			return slices.Equal(byEvent[retried.EventID], []string{"2:success", "1:failed"}) &&
				slices.Equal(byEvent[fresh.EventID], []string{"1:success"})
		})
	})
}
