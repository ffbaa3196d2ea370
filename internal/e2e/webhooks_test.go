package e2e_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/webhooks"
)

// verifyWebhook checks a delivery as a Standard Webhooks receiver would, written from the specification and
// API.md §3.7 without the platform's code: webhook-id, webhook-timestamp (within 5 minutes of now) and
// webhook-signature are present, and one of the space-separated `v1,<base64>` signatures is
// base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")), key being the base64 decoding of the
// secret after "whsec_".
func verifyWebhook(secret string, h http.Header, body []byte) error {
	id, ts, signatures := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || signatures == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %v", ts, err)
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %d is %s away from now", sec, d)
	}
	encoded, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return errors.New("the secret does not start with whsec_")
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(encoded, "="))
	if err != nil {
		return fmt.Errorf("secret: %v", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(signatures) {
		if v, b64, _ := strings.Cut(sig, ","); v == "v1" {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return errors.New("no signature matches")
}

// hookReceiver is a webhook endpoint that answers fail to the first request, then 200.
type hookReceiver struct {
	*httptest.Server
	fail int
	mu   sync.Mutex
	got  []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T, fail int) *hookReceiver {
	r := &hookReceiver{fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), body})
		first := len(r.got) == 1
		r.mu.Unlock()
		if first {
			w.WriteHeader(r.fail)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// wait returns the deliveries once there are n.
func (r *hookReceiver) wait(t *testing.T, n int) []delivery {
	t.Helper()
	if !waitFor(60*time.Second, func() bool { return len(r.deliveries()) >= n }) {
		t.Fatalf("the receiver got %d deliveries, want %d", len(r.deliveries()), n)
	}
	return r.deliveries()
}

// finishRemoteRun registers a remote run of agent and finalizes it through its signed sink, which publishes
// the run's terminal event.
func (p *platform) finishRemoteRun(agent string, input map[string]any) string {
	p.t.Helper()
	var created struct {
		RunID       string `json:"runId"`
		FinalizeURL string `json:"finalizeUrl"`
		Secret      string `json:"secret"`
	}
	p.do(http.MethodPost, "/api/runs/remote", map[string]any{"applicationId": p.app,
		"source": map[string]any{"kind": "registry", "packageId": agent}, "input": input}, http.StatusCreated, &created)
	body, _ := json.Marshal(map[string]any{"status": "success", "output": map[string]any{"greeting": "Hello"},
		"usage": map[string]any{"input_tokens": 10, "output_tokens": 5}})
	id, ts := "msg_finalize_"+created.RunID, strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(created.Secret))
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, created.FinalizeURL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		p.t.Fatalf("finalize: %d %s", resp.StatusCode, raw)
	}
	return created.RunID
}

// deliveryJobStates reads the states of the webhook delivery jobs from the live server's SQLite database
// (read-only: WAL lets a reader in beside the server).
func deliveryJobStates(t *testing.T, dbPath string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), `SELECT state FROM river_job WHERE kind = ? ORDER BY id`, webhooks.DeliveryKind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestWebhookDeliverySurvivesKill: a delivery whose first attempt failed is pending, its retry due 30 s
// later, when the server is killed with SIGKILL; the restarted server delivers it — the second attempt of
// the same event, signed as the receiver expects. The 30 s pass on the job's clock: while the server is down
// the test checks the retry's schedule and makes it due, as time would.
func TestWebhookDeliverySurvivesKill(t *testing.T) {
	rcv := newHookReceiver(t, http.StatusServiceUnavailable)
	p := startPlatform(t, nil)
	p.signUp("acme")
	var hook struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	p.do(http.MethodPost, "/api/webhooks", map[string]any{"level": "org", "url": rcv.URL + "/hooks/appstrate",
		"events": []string{"run.success", "run.failed"}}, http.StatusCreated, &hook)

	runID := p.finishRemoteRun("@acme/hello-world", map[string]any{"name": "Ada"})
	first := rcv.wait(t, 1)[0]
	if err := verifyWebhook(hook.Secret, first.header, first.body); err != nil {
		t.Fatalf("attempt 1: %v", err)
	}
	var event struct {
		ID, Type string
		Data     struct {
			Object struct{ ID string }
		}
	}
	if err := json.Unmarshal(first.body, &event); err != nil || event.Data.Object.ID != runID ||
		(event.Type != "run.success" && event.Type != "run.failed") || first.header.Get("webhook-attempt") != "1" {
		t.Fatalf("attempt 1: %v %s", first.header, first.body)
	}

	dbPath := filepath.Join(p.Dir, "data", "appstrate.db")
	if !waitFor(60*time.Second, func() bool { return slices.Equal(deliveryJobStates(t, dbPath), []string{"retryable"}) }) {
		t.Fatalf("delivery jobs %v, want one retryable", deliveryJobStates(t, dbPath))
	}
	p.kill9()

	db, err := store.Open(context.Background(), store.Options{SQLitePath: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	jc := jobs.New(db, jobs.Options{})
	list, err := jc.River().JobList(context.Background(), river.NewJobListParams().Kinds(webhooks.DeliveryKind))
	if err != nil || len(list.Jobs) != 1 {
		t.Fatalf("delivery jobs: %v %v", list, err)
	}
	job := list.Jobs[0]
	if job.AttemptedAt == nil || job.Attempt != 1 {
		t.Fatalf("job %+v", job)
	}
	if d := job.ScheduledAt.Sub(*job.AttemptedAt); d < webhooks.RetryDelays[0]-time.Second || d > webhooks.RetryDelays[0]+time.Second {
		t.Fatalf("the retry is due %s after attempt 1, want %s", d, webhooks.RetryDelays[0])
	}
	if _, err := jc.River().JobRetry(context.Background(), job.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	p.start()
	second := rcv.wait(t, 2)[1]
	if err := verifyWebhook(hook.Secret, second.header, second.body); err != nil {
		t.Fatalf("attempt 2: %v", err)
	}
	if second.header.Get("webhook-attempt") != "2" || second.header.Get("webhook-id") != event.ID ||
		!bytes.Equal(second.body, first.body) {
		t.Fatalf("attempt 2 is not the same event: %v %s", second.header, second.body)
	}
	var recorded struct {
		Data []struct {
			EventID string `json:"eventId"`
			Attempt int    `json:"attempt"`
			Status  string `json:"status"`
		} `json:"data"`
	}
	if !waitFor(30*time.Second, func() bool {
		p.do(http.MethodGet, "/api/webhooks/"+hook.ID+"/deliveries", nil, http.StatusOK, &recorded)
		return len(recorded.Data) == 2 && recorded.Data[0].Status == "success"
	}) {
		t.Fatalf("deliveries %+v", recorded.Data)
	}
	if d := recorded.Data; d[0].Attempt != 2 || d[1].Attempt != 1 || d[1].Status != "failed" || d[0].EventID != event.ID {
		t.Fatalf("deliveries %+v", d)
	}
	if n := len(rcv.deliveries()); n != 2 {
		t.Fatalf("the receiver got %d deliveries", n)
	}
}
