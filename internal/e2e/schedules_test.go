package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

// The schedules acceptance (issue 10): every-minute schedules fire exactly once per minute, with two
// `serve` processes on one PostgreSQL database, and with one SQLite process restarted in the middle. The
// runs fail at once (no model is configured): what is counted is the run rows the slots created.

const scheduleCount = 20

// minuteSlots waits until three minute slots after now have fired and returns them.
func minuteSlots(t *testing.T, afterSlot func(i int)) []time.Time {
	t.Helper()
	first := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	slots := []time.Time{first, first.Add(time.Minute), first.Add(2 * time.Minute)}
	for i, s := range slots {
		// The firing job runs on the quarter minute: 30 s after a slot it has fired, and the next slot is
		// 30 s away, so counting then is unambiguous.
		time.Sleep(time.Until(s.Add(30 * time.Second)))
		if afterSlot != nil {
			afterSlot(i)
		}
	}
	return slots
}

// createSchedules makes scheduleCount every-minute schedules of the starter agent on p.
func createSchedules(t *testing.T, p *platform) []string {
	t.Helper()
	var profiles struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	p.do(http.MethodGet, "/api/connection-profiles", nil, http.StatusOK, &profiles)
	profile := ""
	if len(profiles.Data) > 0 {
		profile = profiles.Data[0].ID
	} else {
		var created struct {
			ID string `json:"id"`
		}
		p.do(http.MethodPost, "/api/connection-profiles", map[string]any{"name": "Default"}, http.StatusCreated, &created)
		profile = created.ID
	}
	// Creation is limited to 10 a minute per caller: half as the signed-in owner, half with an API key.
	key := p.apiKey()
	var ids []string
	for i := 0; i < scheduleCount; i++ {
		var s struct {
			ID string `json:"id"`
		}
		body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("every minute %d", i), "connectionProfileId": profile,
			"cronExpression": "* * * * *", "timezone": "UTC"})
		h := http.Header{}
		if i%2 == 1 {
			h.Set("Authorization", "Bearer "+key)
		}
		p.sendWith(http.MethodPost, "/api/agents/@acme/hello-world/schedules", h, body, http.StatusCreated, &s)
		ids = append(ids, s.ID)
	}
	return ids
}

// sendWith sends a JSON body with extra headers; an Authorization header replaces the session cookie.
func (p *platform) sendWith(method, path string, h http.Header, body []byte, want int, out any) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Org-Id", p.org)
	req.Header.Set("X-Application-Id", p.app)
	client := p.c
	for k, v := range h {
		req.Header[k] = v
	}
	if h.Get("Authorization") != "" {
		client = &http.Client{Timeout: 30 * time.Second}
		req.Header.Del("X-Org-Id")
		req.Header.Del("X-Application-Id")
	} else {
		req.Header.Set("Origin", p.URL)
	}
	resp, err := client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		p.t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			p.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

// assertOnePerSlot checks that each schedule has exactly one run per slot and none elsewhere.
func assertOnePerSlot(t *testing.T, p *platform, schedules []string, slots []time.Time) {
	t.Helper()
	total := 0
	for _, id := range schedules {
		var runs struct {
			Data []struct {
				ID        string    `json:"id"`
				CreatedAt time.Time `json:"createdAt"`
				StartedAt time.Time `json:"startedAt"`
			} `json:"data"`
		}
		p.do(http.MethodGet, "/api/schedules/"+id+"/runs?limit=100", nil, http.StatusOK, &runs)
		perSlot := map[time.Time]int{}
		for _, r := range runs.Data {
			at := r.StartedAt
			if at.IsZero() {
				at = r.CreatedAt
			}
			perSlot[at.UTC().Truncate(time.Minute)]++
		}
		for _, s := range slots {
			if perSlot[s] != 1 {
				t.Errorf("schedule %s: %d runs in slot %s, want 1 (all: %v)", id, perSlot[s], s.Format(time.TimeOnly), perSlot)
			}
		}
		total += len(runs.Data)
	}
	if want := len(schedules) * len(slots); total != want {
		t.Errorf("%d runs, want %d", total, want)
	}
}

func TestSchedulesFireOncePerSlotWithTwoProcessesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("three minutes of wall clock")
	}
	t.Parallel()
	db := storetest.PostgresOptions(t)
	shared := filepath.Join(t.TempDir(), "data") // one secrets file: both processes sign the same cookies
	p1 := startPlatform(t, map[string]string{"DATABASE_URL": db.DatabaseURL, "DATA_DIR": shared})
	p2 := startPlatform(t, map[string]string{"DATABASE_URL": db.DatabaseURL, "DATA_DIR": shared})
	p1.signUp("acme")
	schedules := createSchedules(t, p1)
	slots := minuteSlots(t, nil)
	p2.org, p2.app, p2.c = p1.org, p1.app, p1.c
	assertOnePerSlot(t, p2, schedules, slots)
}

func TestSchedulesFireOncePerSlotAcrossARestartOnSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("three minutes of wall clock")
	}
	t.Parallel()
	p := startPlatform(t, nil)
	p.signUp("acme")
	schedules := createSchedules(t, p)
	slots := minuteSlots(t, func(i int) {
		if i == 0 { // between the first and the second slot
			p.stop()
			p.start()
		}
	})
	assertOnePerSlot(t, p, schedules, slots)
}
