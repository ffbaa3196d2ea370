package uploads

import (
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/store"
)

// File is a consumed upload: what a run needs to place it in its workspace and list it in its prompt.
type File struct {
	ID      string // upl_…
	Name    string // as given at creation (sanitise with DocumentName before using it as a path)
	MIME    string // declared type, verified against the magic bytes when the content was written
	Size    int64  // actual size of the content
	BlobKey string // object key, for Open
}

// Consume resolves a run input's upload://upl_… reference for orgID/appID and marks the upload consumed, so
// that it is used once. Call it inside the transaction that creates the run (q = the *store.Tx): a rolled
// back run leaves the upload consumable.
//
// Errors: ErrInvalidURI (400), ErrNotFound (unknown, or of another organization or application: 404),
// ErrConsumed (409 upload_consumed), ErrExpired (410 upload_expired), ErrNotWritten (400: no content yet).
func (s *Service) Consume(ctx context.Context, q store.Querier, orgID, appID, uri string) (File, error) {
	id, err := ParseURI(uri)
	if err != nil {
		return File{}, err
	}
	u, err := get(ctx, q, id, true)
	if err != nil {
		return File{}, err
	}
	if u.OrgID != orgID || u.ApplicationID != appID {
		return File{}, ErrNotFound
	}
	now := s.now()
	switch {
	case !u.ConsumedAt.IsZero():
		return File{}, ErrConsumed
	case !now.Before(u.ExpiresAt.Time):
		return File{}, ErrExpired
	case u.WrittenAt.IsZero():
		return File{}, ErrNotWritten
	}
	res, err := q.ExecContext(ctx, `UPDATE uploads SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL`, now, id)
	if err != nil {
		return File{}, fmt.Errorf("consume upload %s: %w", id, err)
	}
	if rows, err := res.RowsAffected(); err != nil || rows != 1 {
		return File{}, ErrConsumed // consumed concurrently (SQLite serialises writers; Postgres locked the row)
	}
	return File{ID: u.ID, Name: u.Name, MIME: u.MIME, Size: u.ContentSize, BlobKey: u.ContentKey}, nil
}

// Open streams the content of a consumed upload; the caller closes it. The content stays available for
// Limits.ConsumedRetention after consumption (the sweep then deletes it).
func (s *Service) Open(ctx context.Context, f File) (io.ReadCloser, error) {
	if f.BlobKey == "" {
		return nil, ErrNotWritten
	}
	obj, err := s.Objects.Open(ctx, f.BlobKey)
	if err != nil {
		return nil, fmt.Errorf("open upload %s: %w", f.ID, err)
	}
	return obj, nil
}

// DocumentName turns an upload's name into a safe file name for the run's workspace (documents/<name>): the
// base name only, no control or path characters, no leading dots, at most 255 bytes with the extension kept;
// "document" when nothing is left.
func DocumentName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(strings.TrimRight(name, "/"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), strings.ContainsRune(`/\:*?"<>|`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	for trimmed := ""; trimmed != out; {
		trimmed = out
		out = strings.TrimSpace(strings.TrimLeft(out, "."))
	}
	if out == "" {
		out = "document"
	}
	for len(out) > 255 {
		ext := path.Ext(out)
		if len(ext) > 32 {
			ext = ""
		}
		stem := out[:len(out)-len(ext)]
		cut := 255 - len(ext)
		for cut > 0 && !utf8.RuneStart(stem[cut]) {
			cut--
		}
		out = strings.TrimSpace(stem[:cut] + ext)
	}
	if out == "" {
		out = "document"
	}
	return out
}

// DocumentNames gives each file a distinct workspace name, in order: DocumentName, then " (2)", " (3)"…
// before the extension for repeats.
func DocumentNames(files []File) []string {
	seen := map[string]bool{}
	out := make([]string, len(files))
	for i, f := range files {
		name := DocumentName(f.Name)
		if seen[strings.ToLower(name)] {
			ext := path.Ext(name)
			stem := strings.TrimSuffix(name, ext)
			for n := 2; ; n++ {
				candidate := stem + " (" + strconv.Itoa(n) + ")" + ext
				if !seen[strings.ToLower(candidate)] {
					name = candidate
					break
				}
			}
		}
		seen[strings.ToLower(name)] = true
		out[i] = name
	}
	return out
}

// Accepts reports whether f satisfies an input's fileConstraints (PACKAGES.md §2: accept is a comma
// separated list of extensions ".pdf" and MIME selectors "application/pdf", "image/*"; maxSize in bytes, 0 =
// none). An empty accept accepts every type.
func Accepts(f File, accept string, maxSize int64) bool {
	if maxSize > 0 && f.Size > maxSize {
		return false
	}
	if strings.TrimSpace(accept) == "" {
		return true
	}
	ext := strings.ToLower(path.Ext(f.Name))
	m := strings.ToLower(f.MIME)
	for _, sel := range strings.Split(accept, ",") {
		sel = strings.ToLower(strings.TrimSpace(sel))
		switch {
		case sel == "":
		case strings.HasPrefix(sel, "."):
			if sel == ext {
				return true
			}
		case sel == "*/*" || sel == m:
			return true
		case strings.HasSuffix(sel, "/*") && strings.HasPrefix(m, strings.TrimSuffix(sel, "*")):
			return true
		}
	}
	return false
}
