package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/idempotency"
)

// Scenarios of API.md §3.6 through the whole platform, on POST /api/end-users.

type endUsersFixture struct {
	e                     *apptest.Env
	owner, org, app, app2 string
}

func newEndUsersFixture(e *apptest.Env) endUsersFixture {
	f := endUsersFixture{e: e}
	f.owner = e.SeedUser("owner@example.com")
	f.org, f.app = e.SeedOrg(f.owner, "acme")
	f.app2 = e.SeedApp(f.org, "Second")
	return f
}

// create posts body (raw JSON) to /api/end-users in app with the given Idempotency-Key ("" = none).
func (f endUsersFixture) create(app, key, body string) *apptest.Response {
	h := apptest.As(f.owner, f.org, app)
	if key != "" {
		h.Set(httpapi.HeaderIdempotencyKey, key)
	}
	return f.e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/end-users", Body: body, Headers: h})
}

func (f endUsersFixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.e.DB.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestEndUserCreationIsIdempotent(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := newEndUsersFixture(e)
		body := `{"name":"Ada","externalId":"u-1"}`
		first := f.create(f.app, "key-1", body)
		if first.Status != http.StatusCreated || first.Header.Get(httpapi.HeaderReplayed) != "" {
			t.Fatalf("first: %d %v %s", first.Status, first.Header, first.Body)
		}
		again := f.create(f.app, "key-1", body)
		if again.Status != http.StatusCreated || again.Header.Get(httpapi.HeaderReplayed) != "true" ||
			!bytes.Equal(again.Body, first.Body) || again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
			t.Fatalf("replay: %d %v %s (first %s)", again.Status, again.Header, again.Body, first.Body)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM end_users WHERE application_id = ?`, f.app); n != 1 {
			t.Fatalf("%d end-users, want 1", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM idempotency_keys WHERE key = ? AND state = 'completed' AND status = 201`, "key-1"); n != 1 {
			t.Fatalf("%d completed key rows, want 1", n)
		}

		// Same key, another body: 422, nothing created.
		res := f.create(f.app, "key-1", `{"name":"Bob"}`)
		if p := res.Problem(t); res.Status != http.StatusUnprocessableEntity || p.Code != "idempotency_conflict" {
			t.Fatalf("conflict: %d %s", res.Status, res.Body)
		}
		// The same key in another application of the organization is another key.
		res = f.create(f.app2, "key-1", body)
		if res.Status != http.StatusCreated || res.Header.Get(httpapi.HeaderReplayed) != "" {
			t.Fatalf("other application: %d %v %s", res.Status, res.Header, res.Body)
		}
		// Without a key the 409 of a duplicate externalId shows the request ran; with the first key it did not.
		if res := f.create(f.app, "", body); res.Status != http.StatusConflict || res.Problem(t).Code != "external_id_taken" {
			t.Fatalf("without key: %d %s", res.Status, res.Body)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM end_users`); n != 2 {
			t.Fatalf("%d end-users, want 2", n)
		}
	})
}

func TestEndUserCreationRefusesLongKeys(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := newEndUsersFixture(e)
		res := f.create(f.app, strings.Repeat("k", 256), `{"name":"Ada"}`)
		if p := res.Problem(t); res.Status != http.StatusBadRequest || p.Code != "invalid_idempotency_key" || p.Param != "Idempotency-Key" {
			t.Fatalf("256 characters: %d %s", res.Status, res.Body)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM end_users`); n != 0 {
			t.Fatalf("%d end-users, want 0", n)
		}
		if res := f.create(f.app, strings.Repeat("k", 255), `{"name":"Ada"}`); res.Status != http.StatusCreated {
			t.Fatalf("255 characters: %d %s", res.Status, res.Body)
		}
	})
}

// TestEndUserCreationInProgress holds the key as a concurrent request would (a Begin in the scope of the
// route) and checks the duplicate is refused until the key is released.
func TestEndUserCreationInProgress(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := newEndUsersFixture(e)
		body := `{"name":"Ada"}`
		scope := httpapi.IdempotencyScope(&auth.Principal{OrgID: f.org, ApplicationID: f.app}, http.MethodPost, "/api/end-users")
		held, err := e.App.Idempotency.Begin(t.Context(), scope, "key-1", idempotency.HashBody([]byte(body)), idempotency.TTL)
		if err != nil || held.State != idempotency.StateNew {
			t.Fatalf("held Begin: %+v, %v", held, err)
		}
		res := f.create(f.app, "key-1", body)
		if p := res.Problem(t); res.Status != http.StatusConflict || p.Code != "idempotency_in_progress" {
			t.Fatalf("in flight: %d %s", res.Status, res.Body)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM end_users`); n != 0 {
			t.Fatalf("%d end-users, want 0", n)
		}
		if err := e.App.Idempotency.Release(t.Context(), scope, "key-1", held.Token); err != nil {
			t.Fatal(err)
		}
		if res := f.create(f.app, "key-1", body); res.Status != http.StatusCreated || res.Header.Get(httpapi.HeaderReplayed) != "" {
			t.Fatalf("after release: %d %s", res.Status, res.Body)
		}
	})
}

// TestServerErrorsReleaseTheKey registers a test-only route that fails once with a 500.
func TestServerErrorsReleaseTheKey(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := newEndUsersFixture(e)
		var calls atomic.Int64
		type out struct {
			Body struct {
				Call int64 `json:"call"`
			}
		}
		op := huma.Operation{OperationID: "testFlaky", Method: http.MethodPost, Path: "/api/test/flaky", DefaultStatus: http.StatusCreated}
		httpapi.Register(e.App.HTTP.API(), httpapi.WithIdempotency(op, e.App.Idempotency, e.App.Logger),
			func(context.Context, *struct{}) (*out, error) {
				n := calls.Add(1)
				if n == 1 {
					return nil, errors.New("database unavailable")
				}
				o := &out{}
				o.Body.Call = n
				return o, nil
			})
		post := func() *apptest.Response {
			h := apptest.As(f.owner, f.org, f.app)
			h.Set(httpapi.HeaderIdempotencyKey, "key-1")
			return e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/test/flaky", Headers: h})
		}
		if res := post(); res.Status != http.StatusInternalServerError {
			t.Fatalf("first: %d %s", res.Status, res.Body)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM idempotency_keys`); n != 0 {
			t.Fatalf("%d key rows after a 500, want 0", n)
		}
		second := post()
		if second.Status != http.StatusCreated || strings.TrimSpace(string(second.Body)) != `{"call":2}` {
			t.Fatalf("second: %d %s", second.Status, second.Body)
		}
		if third := post(); third.Header.Get(httpapi.HeaderReplayed) != "true" || !bytes.Equal(third.Body, second.Body) {
			t.Fatalf("third: %d %v %s", third.Status, third.Header, third.Body)
		}
		if n := calls.Load(); n != 2 {
			t.Fatalf("handler ran %d times, want 2", n)
		}
	})
}
