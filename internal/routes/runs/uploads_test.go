package runs_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/executor/executortest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// readerManifest has a single PDF input (≤ 1000 bytes) and a list of PDFs.
const readerManifest = `{"name":"@acme/reader","version":"1.0.0","type":"agent","timeout":30,
 "input":{"schema":{"type":"object","properties":{
   "doc":{"type":"string","format":"uri","contentMediaType":"application/pdf"},
   "extras":{"type":"array","items":{"type":"string","format":"uri","contentMediaType":"application/pdf"}}},
  "required":["doc"]},
  "fileConstraints":{"doc":{"accept":".pdf,application/pdf","maxSize":1000}}}}`

var (
	pdfBytes = []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
	pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")
)

// upload is the part of POST /api/uploads the tests use.
type upload struct{ ID, URI, URL string }

// newUpload creates an upload through the API.
func (w world) newUpload(t *testing.T, name, mime string, size int) upload {
	t.Helper()
	res := w.e.Do(apptest.Request{Method: "POST", Path: "/api/uploads", Headers: w.h,
		Body: map[string]any{"name": name, "mime": mime, "size": size}})
	var u upload
	res.JSON(t, &u)
	if res.Status != http.StatusCreated {
		t.Fatalf("create upload: %d %s", res.Status, res.Body)
	}
	return u
}

// put sends content to the upload's URL, without credentials, as a browser would.
func (w world) put(t *testing.T, u upload, mime string, content []byte) *apptest.Response {
	t.Helper()
	parsed, err := url.Parse(u.URL)
	if err != nil {
		t.Fatal(err)
	}
	return w.e.Do(apptest.Request{Method: "PUT", Path: parsed.RequestURI(), Body: content, Headers: apptest.Headers("Content-Type", mime)})
}

// written creates an upload and writes content to it.
func (w world) written(t *testing.T, name, mime string, content []byte) upload {
	t.Helper()
	u := w.newUpload(t, name, mime, len(content))
	if res := w.put(t, u, mime, content); res.Status != http.StatusNoContent {
		t.Fatalf("put %s: %d %s", name, res.Status, res.Body)
	}
	return u
}

func (w world) runReader(input map[string]any) *apptest.Response {
	return w.e.Do(apptest.Request{Method: "POST", Path: "/api/agents/@acme/reader/run", Headers: w.h, Body: map[string]any{"input": input}})
}

// TestRunFileInputs walks the two-step upload into a run's file input through the API: the content is
// checked by its magic bytes, an upload is used by one run only, an expired URL or upload is refused, and a
// refused run leaves its uploads usable.
func TestRunFileInputs(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e, executortest.NewFake(executor.Result{}))
		now := isotime.Now()
		exec(t, e, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, created_at, updated_at)
			VALUES ('@acme/reader', ?, 'agent', 'local', ?, 'Read.', ?, ?)`, w.org, readerManifest, now, now)
		exec(t, e, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
			VALUES (?, '@acme/reader', '{}', ?, ?, ?)`, w.app, true, now, now)

		// Content that is not what the upload declared: 400 naming both MIME types.
		fake := w.newUpload(t, "scan.pdf", "application/pdf", 1000)
		res := w.put(t, fake, "application/pdf", pngBytes)
		if p := res.Problem(t); res.Status != http.StatusBadRequest || !strings.Contains(p.Detail, "mime") ||
			!strings.Contains(p.Detail, "application/pdf") || !strings.Contains(p.Detail, "image/png") {
			t.Fatalf("png sent as pdf: %d %s", res.Status, res.Body)
		}

		// A run consumes its upload; a second run with the same URI is refused.
		doc := w.written(t, "report.pdf", "application/pdf", pdfBytes)
		if res := w.runReader(map[string]any{"doc": doc.URI}); res.Status != http.StatusOK {
			t.Fatalf("run: %d %s", res.Status, res.Body)
		}
		var consumed *string
		if err := e.DB.QueryRowContext(context.Background(), `SELECT consumed_at FROM uploads WHERE id = ?`, doc.ID).Scan(&consumed); err != nil || consumed == nil {
			t.Fatalf("upload not consumed by the run: %v %v", consumed, err)
		}
		res = w.runReader(map[string]any{"doc": doc.URI})
		if p := res.Problem(t); res.Status != http.StatusConflict || p.Code != "upload_consumed" || !strings.Contains(p.Detail, doc.URI) {
			t.Fatalf("reused upload: %d %s", res.Status, res.Body)
		}

		// A refused run consumes nothing: the fresh upload of a run refused for a used one stays usable.
		fresh := w.written(t, "fresh.pdf", "application/pdf", pdfBytes)
		res = w.runReader(map[string]any{"doc": fresh.URI, "extras": []string{doc.URI}})
		if p := res.Problem(t); res.Status != http.StatusConflict || p.Code != "upload_consumed" || !strings.Contains(p.Detail, "input.extras[0]") {
			t.Fatalf("run with a used extra: %d %s", res.Status, res.Body)
		}
		extra := w.written(t, "annex.pdf", "application/pdf", pdfBytes)
		if res := w.runReader(map[string]any{"doc": fresh.URI, "extras": []string{extra.URI}}); res.Status != http.StatusOK {
			t.Fatalf("run after a refused one: %d %s", res.Status, res.Body)
		}

		// Refusals of the field.
		text := w.written(t, "notes.txt", "text/plain", []byte("hello\n"))
		big := w.written(t, "big.pdf", "application/pdf", append(append([]byte{}, pdfBytes...), make([]byte, 1000)...))
		pending := w.newUpload(t, "later.pdf", "application/pdf", 100)
		cases := []struct {
			name   string
			doc    any
			status int
			code   string
			detail string
		}{
			{"type refused by fileConstraints", text.URI, 400, "validation_failed", "mime text/plain"},
			{"over maxSize", big.URI, 400, "validation_failed", "max size 1000"},
			{"not an upload URI", "https://example.com/a.pdf", 400, "validation_failed", "upload://"},
			{"malformed upload URI", "upload://nope", 400, "validation_failed", "invalid upload URI"},
			{"never written", pending.URI, 400, "validation_failed", "no content"},
			{"unknown upload", "upload://" + ids.New(ids.Upload), 404, "not_found", "upload not found"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				res := w.runReader(map[string]any{"doc": c.doc})
				p := res.Problem(t)
				if res.Status != c.status || p.Code != c.code || !strings.Contains(p.Detail, c.detail) {
					t.Fatalf("%d %s", res.Status, res.Body)
				}
				if c.status == 400 && (len(p.Errors) != 1 || p.Errors[0].Field != "input.doc") {
					t.Fatalf("errors %+v", p.Errors)
				}
			})
		}

		// Expired: the upload URL, and a written upload nobody used in time.
		late := w.newUpload(t, "late.pdf", "application/pdf", 1000)
		unused := w.written(t, "unused.pdf", "application/pdf", pdfBytes)
		later := time.Now().Add(16 * time.Minute)
		e.App.Uploads.Now = func() time.Time { return later }
		defer func() { e.App.Uploads.Now = nil }()
		res = w.put(t, late, "application/pdf", pdfBytes)
		if p := res.Problem(t); res.Status != http.StatusGone || p.Code != "upload_expired" {
			t.Fatalf("expired URL: %d %s", res.Status, res.Body)
		}
		res = w.runReader(map[string]any{"doc": unused.URI})
		if p := res.Problem(t); res.Status != http.StatusGone || p.Code != "upload_expired" {
			t.Fatalf("expired upload: %d %s", res.Status, res.Body)
		}
	})
}
