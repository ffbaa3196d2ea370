package uploads_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
	"github.com/appstrate/appstrate-go/internal/uploads"
)

var (
	pdfBytes = []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
	pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")
)

type uploadObject struct {
	Object    string            `json:"object"`
	ID        string            `json:"id"`
	URI       string            `json:"uri"`
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt string            `json:"expiresAt"`
}

// tenant is a seeded user with an organization and its default application.
type tenant struct{ user, org, app string }

func seedTenant(e *apptest.Env, slug string) tenant {
	user := e.SeedUser(slug + "@example.com")
	org, app := e.SeedOrg(user, slug)
	return tenant{user, org, app}
}

func (tn tenant) headers() http.Header { return apptest.As(tn.user, tn.org, tn.app) }

func create(t *testing.T, e *apptest.Env, tn tenant, name, mime string, size int) uploadObject {
	t.Helper()
	res := e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/uploads", Headers: tn.headers(),
		Body: map[string]any{"name": name, "mime": mime, "size": size}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var u uploadObject
	res.JSON(t, &u)
	return u
}

// put sends body to the upload URL as a browser would (no credentials); chunked hides the length.
func put(t *testing.T, e *apptest.Env, rawURL, contentType string, body []byte, chunked bool) *apptest.Response {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // hides the length: ContentLength stays -1
	}
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPut, u.RequestURI(), r)
	if chunked {
		req.ContentLength = -1
	}
	req.RemoteAddr = "127.0.0.1:40000"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	e.App.HTTP.Handler().ServeHTTP(rec, req)
	return &apptest.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func consume(e *apptest.Env, tn tenant, uri string) (uploads.File, error) {
	return e.App.Uploads.Consume(context.Background(), e.DB, tn.org, tn.app, uri)
}

func TestTwoStepUpload(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		tn := seedTenant(e, "acme")
		before := time.Now()
		u := create(t, e, tn, "Q3 report.pdf", "application/pdf", len(pdfBytes)+100)

		if u.Object != "upload" || !ids.Valid(u.ID, ids.Upload) || u.URI != "upload://"+u.ID || u.Method != "PUT" ||
			u.Headers["Content-Type"] != "application/pdf" || len(u.Headers) != 1 {
			t.Fatalf("created upload %+v", u)
		}
		if !strings.HasPrefix(u.URL, e.Config.AppURL+"/api/uploads/_content?token=") {
			t.Fatalf("url %q", u.URL)
		}
		exp, err := isotime.Parse(u.ExpiresAt)
		if err != nil || exp.Before(before.Add(15*time.Minute-time.Second)) || exp.After(time.Now().Add(15*time.Minute+time.Second)) {
			t.Fatalf("expiresAt %q, want about 15 minutes from now", u.ExpiresAt)
		}

		if _, err := consume(e, tn, u.URI); !errors.Is(err, uploads.ErrNotWritten) {
			t.Fatalf("consume before the PUT: %v, want ErrNotWritten", err)
		}

		res := put(t, e, u.URL, "application/pdf", pdfBytes, false)
		if res.Status != http.StatusNoContent || len(res.Body) != 0 {
			t.Fatalf("put: %d %s", res.Status, res.Body)
		}

		f, err := consume(e, tn, u.URI)
		if err != nil {
			t.Fatal(err)
		}
		if f.ID != u.ID || f.Name != "Q3 report.pdf" || f.MIME != "application/pdf" || f.Size != int64(len(pdfBytes)) || f.BlobKey == "" {
			t.Fatalf("consumed file %+v", f)
		}
		rc, err := e.App.Uploads.Open(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, pdfBytes) {
			t.Fatalf("content %q", got)
		}
		if _, err := os.Stat(filepath.Join(e.Config.FSStoragePath, "uploads", filepath.FromSlash(f.BlobKey))); err != nil {
			t.Fatalf("content not under FS_STORAGE_PATH/uploads: %v", err)
		}

		// Single use: the URI and the URL.
		if _, err := consume(e, tn, u.URI); !errors.Is(err, uploads.ErrConsumed) {
			t.Fatalf("second consume: %v, want ErrConsumed", err)
		}
		res = put(t, e, u.URL, "application/pdf", pdfBytes, false)
		if p := res.Problem(t); res.Status != http.StatusConflict || p.Code != "upload_already_written" {
			t.Fatalf("second put: %d %s", res.Status, res.Body)
		}
	})
}

// A rolled-back run leaves its upload consumable: Consume runs inside the run's transaction.
func TestConsumeInsideTransaction(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		tn := seedTenant(e, "acme")
		u := create(t, e, tn, "notes.txt", "text/plain", 64)
		if res := put(t, e, u.URL, "text/plain; charset=utf-8", []byte("hello\n"), false); res.Status != http.StatusNoContent {
			t.Fatalf("put: %d %s", res.Status, res.Body)
		}
		rollback := errors.New("run refused")
		err := e.DB.InTx(context.Background(), func(tx *store.Tx) error {
			if _, err := e.App.Uploads.Consume(context.Background(), tx, tn.org, tn.app, u.URI); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("InTx: %v", err)
		}
		if _, err := consume(e, tn, u.URI); err != nil {
			t.Fatalf("consume after a rolled back run: %v", err)
		}
	})
}

func TestCreateValidation(t *testing.T) {
	apptest.Run(t, map[string]string{"APP_URL": "https://appstrate.example.com"}, func(t *testing.T, e *apptest.Env) {
		tn := seedTenant(e, "acme")
		tests := []struct {
			name   string
			body   any
			status int
			code   string
			field  string
		}{
			{"missing name", map[string]any{"mime": "application/pdf", "size": 10}, 400, "validation_failed", "name"},
			{"empty name", map[string]any{"name": "", "mime": "application/pdf", "size": 10}, 400, "validation_failed", "name"},
			{"long name", map[string]any{"name": strings.Repeat("a", 256), "mime": "application/pdf", "size": 10}, 400, "validation_failed", "name"},
			{"zero size", map[string]any{"name": "a.pdf", "mime": "application/pdf", "size": 0}, 400, "validation_failed", "size"},
			{"over 100 MiB", map[string]any{"name": "a.pdf", "mime": "application/pdf", "size": 100<<20 + 1}, 400, "validation_failed", "size"},
			{"missing mime", map[string]any{"name": "a.pdf", "size": 10}, 400, "validation_failed", "mime"},
			{"executable", map[string]any{"name": "a.exe", "mime": "application/x-msdownload", "size": 10}, 400, "validation_failed", "mime"},
			{"not a mime", map[string]any{"name": "a.pdf", "mime": "pdf", "size": 10}, 400, "validation_failed", "mime"},
		}
		for _, tc := range tests {
			res := e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/uploads", Headers: tn.headers(), Body: tc.body})
			p := res.Problem(t)
			if res.Status != tc.status || p.Code != tc.code {
				t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
				continue
			}
			found := false
			for _, fe := range p.Errors {
				found = found || fe.Field == tc.field
			}
			if !found {
				t.Errorf("%s: no error on %s: %s", tc.name, tc.field, res.Body)
			}
		}

		// Exactly 100 MiB, an upper-case MIME with parameters, and the URL on APP_URL.
		res := e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/uploads", Headers: tn.headers(),
			Body: map[string]any{"name": "big.csv", "mime": "Text/CSV; charset=utf-8", "size": 100 << 20}})
		var u uploadObject
		res.JSON(t, &u)
		if res.Status != http.StatusCreated || u.Headers["Content-Type"] != "text/csv" ||
			!strings.HasPrefix(u.URL, "https://appstrate.example.com/api/uploads/_content?token=") {
			t.Fatalf("create: %d %s", res.Status, res.Body)
		}

		// Authentication and application context come from the pipeline.
		if res := e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/uploads",
			Body: map[string]any{"name": "a.pdf", "mime": "application/pdf", "size": 10}}); res.Status != http.StatusUnauthorized {
			t.Errorf("anonymous create: %d", res.Status)
		}
		if res := e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/uploads", Headers: apptest.As(tn.user, tn.org, ""),
			Body: map[string]any{"name": "a.pdf", "mime": "application/pdf", "size": 10}}); res.Status != http.StatusBadRequest {
			t.Errorf("create without X-Application-Id: %d", res.Status)
		}
	})
}

func TestContentChecks(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		tn := seedTenant(e, "acme")

		t.Run("wrong mime by magic bytes", func(t *testing.T) {
			u := create(t, e, tn, "scan.pdf", "application/pdf", 1000)
			res := put(t, e, u.URL, "application/pdf", pngBytes, false)
			p := res.Problem(t)
			if res.Status != http.StatusBadRequest || !strings.Contains(p.Detail, "mime") ||
				!strings.Contains(p.Detail, "application/pdf") || !strings.Contains(p.Detail, "image/png") {
				t.Fatalf("put png as pdf: %d %s", res.Status, res.Body)
			}
			if _, err := consume(e, tn, u.URI); !errors.Is(err, uploads.ErrNotWritten) {
				t.Fatalf("consume after a refused put: %v", err)
			}
			// The URL stays usable for the right content.
			if res := put(t, e, u.URL, "application/pdf", pdfBytes, false); res.Status != http.StatusNoContent {
				t.Fatalf("retry: %d %s", res.Status, res.Body)
			}
		})

		t.Run("text declared, binary sent", func(t *testing.T) {
			u := create(t, e, tn, "data.csv", "text/csv", 1000)
			res := put(t, e, u.URL, "text/csv", pngBytes, false)
			if p := res.Problem(t); res.Status != http.StatusBadRequest || !strings.Contains(p.Detail, "text/csv") {
				t.Fatalf("put: %d %s", res.Status, res.Body)
			}
		})

		t.Run("office document", func(t *testing.T) {
			docx := docxBytes(t)
			m := "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
			u := create(t, e, tn, "contract.docx", m, len(docx))
			if res := put(t, e, u.URL, m, docx, false); res.Status != http.StatusNoContent {
				t.Fatalf("put docx: %d %s", res.Status, res.Body)
			}
		})

		t.Run("content type differs from the declared mime", func(t *testing.T) {
			u := create(t, e, tn, "scan.pdf", "application/pdf", 1000)
			for _, ct := range []string{"image/png", ""} {
				res := put(t, e, u.URL, ct, pdfBytes, false)
				if p := res.Problem(t); res.Status != http.StatusBadRequest || p.Param != "Content-Type" {
					t.Fatalf("Content-Type %q: %d %s", ct, res.Status, res.Body)
				}
			}
		})

		t.Run("oversize", func(t *testing.T) {
			u := create(t, e, tn, "small.txt", "text/plain", 10)
			for _, chunked := range []bool{false, true} {
				res := put(t, e, u.URL, "text/plain", []byte("eleven char"), chunked)
				if p := res.Problem(t); res.Status != http.StatusRequestEntityTooLarge || p.Code != "payload_too_large" {
					t.Fatalf("chunked=%v: %d %s", chunked, res.Status, res.Body)
				}
			}
			// Exactly the declared size passes, through a chunked body too.
			if res := put(t, e, u.URL, "text/plain", []byte("ten chars!"), true); res.Status != http.StatusNoContent {
				t.Fatalf("exact size: %d %s", res.Status, res.Body)
			}
			// Nothing of the refused attempts is left in storage.
			f, err := consume(e, tn, u.URI)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(e.Config.FSStoragePath, "uploads", tn.org, tn.app, u.ID)
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || entries[0].Name() != filepath.Base(f.BlobKey) {
				t.Fatalf("objects left: %v", entries)
			}
		})
	})
}

// The content route is exempt from API_BODY_LIMIT_BYTES: its own cap is the declared size.
func TestContentExemptFromBodyLimit(t *testing.T) {
	apptest.Run(t, map[string]string{"API_BODY_LIMIT_BYTES": "1024"}, func(t *testing.T, e *apptest.Env) {
		tn := seedTenant(e, "acme")
		body := bytes.Repeat([]byte("lorem ipsum dolor sit amet\n"), 2000)
		u := create(t, e, tn, "lorem.txt", "text/plain", len(body))
		if res := put(t, e, u.URL, "text/plain", body, false); res.Status != http.StatusNoContent {
			t.Fatalf("put %d bytes: %d %s", len(body), res.Status, res.Body)
		}
	})
}

func TestExpiry(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		tn := seedTenant(e, "acme")
		u := create(t, e, tn, "late.pdf", "application/pdf", 1000)
		written := create(t, e, tn, "slow.pdf", "application/pdf", 1000)
		if res := put(t, e, written.URL, "application/pdf", pdfBytes, false); res.Status != http.StatusNoContent {
			t.Fatalf("put: %d %s", res.Status, res.Body)
		}

		later := time.Now().Add(16 * time.Minute)
		e.App.Uploads.Now = func() time.Time { return later }
		defer func() { e.App.Uploads.Now = nil }()

		res := put(t, e, u.URL, "application/pdf", pdfBytes, false)
		if p := res.Problem(t); res.Status != http.StatusGone || p.Code != "upload_expired" {
			t.Fatalf("expired put: %d %s", res.Status, res.Body)
		}
		if _, err := consume(e, tn, written.URI); !errors.Is(err, uploads.ErrExpired) {
			t.Fatalf("consume of an expired upload: %v, want ErrExpired", err)
		}
	})
}

func TestTamperedToken(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		tn := seedTenant(e, "acme")
		u := create(t, e, tn, "a.txt", "text/plain", 5)
		parsed, _ := url.Parse(u.URL)
		token := parsed.Query().Get("token")
		payload, sig, _ := strings.Cut(token, ".")

		// A forged payload granting a larger size, under the original signature.
		c, err := uploads.ParseToken([]byte(e.Config.UploadSigningSecret), token)
		if err != nil {
			t.Fatal(err)
		}
		c.Size = 1 << 30
		forged, _ := uploads.SignToken([]byte("some-other-secret-0123456789"), c)
		forgedPayload, _, _ := strings.Cut(forged, ".")

		base := e.Config.AppURL + "/api/uploads/_content?token="
		for name, tok := range map[string]string{
			"signature changed": payload + "." + strings.Repeat("A", len(sig)),
			"payload changed":   forgedPayload + "." + sig,
			"other secret":      forged,
			"garbage":           "not-a-token",
		} {
			res := put(t, e, base+url.QueryEscape(tok), "text/plain", []byte("hello"), false)
			if p := res.Problem(t); res.Status != http.StatusUnauthorized || p.Code != "unauthorized" {
				t.Errorf("%s: %d %s", name, res.Status, res.Body)
			}
		}
		res := put(t, e, e.Config.AppURL+"/api/uploads/_content", "text/plain", []byte("hello"), false)
		if res.Status != http.StatusBadRequest && res.Status != http.StatusUnauthorized {
			t.Errorf("no token: %d %s", res.Status, res.Body)
		}
		// The genuine token still works.
		if res := put(t, e, u.URL, "text/plain", []byte("hello"), false); res.Status != http.StatusNoContent {
			t.Fatalf("genuine put: %d %s", res.Status, res.Body)
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		a, b := seedTenant(e, "acme"), seedTenant(e, "globex")
		otherApp := e.SeedApp(a.org, "Second")
		u := create(t, e, a, "a.pdf", "application/pdf", 1000)
		if res := put(t, e, u.URL, "application/pdf", pdfBytes, false); res.Status != http.StatusNoContent {
			t.Fatalf("put: %d %s", res.Status, res.Body)
		}
		for name, tn := range map[string]tenant{
			"other organization":            b,
			"other application, same org":   {a.user, a.org, otherApp},
			"right app under the wrong org": {b.user, b.org, a.app},
		} {
			if _, err := consume(e, tn, u.URI); !errors.Is(err, uploads.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
		for _, bad := range []string{"upload://upl_x", "https://example.com/a.pdf", u.ID} {
			if _, err := consume(e, a, bad); !errors.Is(err, uploads.ErrInvalidURI) {
				t.Errorf("consume(%q): %v, want ErrInvalidURI", bad, err)
			}
		}
		if _, err := consume(e, a, uploads.URI(ids.New(ids.Upload))); !errors.Is(err, uploads.ErrNotFound) {
			t.Errorf("unknown upload: %v", err)
		}
		// A member of another organization cannot create in this application.
		res := e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/uploads", Headers: apptest.As(b.user, a.org, a.app),
			Body: map[string]any{"name": "x.pdf", "mime": "application/pdf", "size": 10}})
		if res.Status != http.StatusForbidden {
			t.Errorf("foreign member create: %d %s", res.Status, res.Body)
		}
		// The owner still consumes it.
		if _, err := consume(e, a, u.URI); err != nil {
			t.Fatalf("owner consume: %v", err)
		}
	})
}

func TestSweep(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		tn := seedTenant(e, "acme")
		svc := e.App.Uploads
		start := time.Now()
		svc.Now = func() time.Time { return start }
		defer func() { svc.Now = nil }()

		unwritten := create(t, e, tn, "never.pdf", "application/pdf", 100)
		written := create(t, e, tn, "written.pdf", "application/pdf", 100)
		consumed := create(t, e, tn, "used.pdf", "application/pdf", 100)
		for _, u := range []uploadObject{written, consumed} {
			if res := put(t, e, u.URL, "application/pdf", pdfBytes, false); res.Status != http.StatusNoContent {
				t.Fatalf("put: %d %s", res.Status, res.Body)
			}
		}
		used, err := consume(e, tn, consumed.URI)
		if err != nil {
			t.Fatal(err)
		}
		svc.Now = func() time.Time { return start.Add(10 * time.Minute) }
		fresh := create(t, e, tn, "fresh.pdf", "application/pdf", 100)

		// 16 minutes in: the first two expired unconsumed; the consumed one is kept for its run; fresh is live.
		svc.Now = func() time.Time { return start.Add(16 * time.Minute) }
		n, err := svc.Sweep(context.Background())
		if err != nil || n != 2 {
			t.Fatalf("Sweep = %d, %v; want 2", n, err)
		}
		ctx := context.Background()
		for _, u := range []uploadObject{unwritten, written} {
			if _, err := svc.Get(ctx, tn.org, tn.app, u.ID); !errors.Is(err, uploads.ErrNotFound) {
				t.Errorf("%s survived the sweep: %v", u.ID, err)
			}
		}
		dir := filepath.Join(e.Config.FSStoragePath, "uploads", tn.org, tn.app, written.ID)
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("content of a swept upload left: %v", entries)
		}
		for _, u := range []uploadObject{consumed, fresh} {
			if _, err := svc.Get(ctx, tn.org, tn.app, u.ID); err != nil {
				t.Errorf("%s swept too early: %v", u.ID, err)
			}
		}
		if rc, err := svc.Open(ctx, used); err != nil {
			t.Errorf("consumed content gone before its retention: %v", err)
		} else {
			rc.Close()
		}

		// A day after consumption the consumed upload goes too; fresh expired meanwhile.
		svc.Now = func() time.Time { return start.Add(25 * time.Hour) }
		if n, err := svc.Sweep(ctx); err != nil || n != 2 {
			t.Fatalf("second Sweep = %d, %v; want 2", n, err)
		}
		if _, err := svc.Open(ctx, used); err == nil {
			t.Errorf("consumed content still there after its retention")
		}
	})
}

// The sweep is a periodic job of the job client (registered by app.New): it runs once when the client
// starts, then hourly.
func TestSweepRunsAsPeriodicJob(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		if err := jobs.Migrate(ctx, e.DB, nil); err != nil { // as app.New does
			t.Fatal(err)
		}
		tn := seedTenant(e, "acme")
		e.App.Uploads.Now = func() time.Time { return time.Now().Add(-time.Hour) }
		u := create(t, e, tn, "stale.pdf", "application/pdf", 100)
		e.App.Uploads.Now = nil
		if err := uploads.RegisterSweep(e.App.Jobs, e.App.Uploads); err != nil { // as app.New does
			t.Fatal(err)
		}
		if err := e.App.Jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_ = e.App.Jobs.Stop(stopCtx)
		}()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, err := e.App.Uploads.Get(ctx, tn.org, tn.app, u.ID); errors.Is(err, uploads.ErrNotFound) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("expired upload not swept by the periodic job")
			}
		}
	})
}

// docxBytes is a minimal Word document: [Content_Types].xml and word/document.xml in a ZIP.
func docxBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"[Content_Types].xml": `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"word/document.xml":   `<w:document/>`,
	} {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.Write([]byte(body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
