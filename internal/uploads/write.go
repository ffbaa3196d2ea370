package uploads

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/appstrate/appstrate-go/internal/ids"
)

// Put is one PUT of an upload's content.
type Put struct {
	Token         string    // the ?token= of the upload URL
	ContentType   string    // the request's Content-Type
	ContentLength int64     // the request's Content-Length; -1 when unknown (chunked)
	Body          io.Reader // streamed, never buffered whole
}

// Write checks the token (signature, then expiry), the upload's state and the Content-Type, streams the body
// into the object store with a hard cap at the declared size, sniffs the stored content and records it. The
// first successful PUT wins; an upload refused for its content (too large, wrong type) can be PUT again
// while its URL is valid.
//
// Errors: ErrInvalidToken, ErrExpired, ErrNotFound, ErrAlreadyWritten, *ContentTypeError, *TooLargeError,
// ErrBodyRead, *MIMEMismatchError.
func (s *Service) Write(ctx context.Context, p Put) error {
	c, err := ParseToken(s.Secret, p.Token)
	if err != nil {
		return err
	}
	now := s.now()
	if !now.Before(c.ExpiresAt()) {
		return ErrExpired
	}
	u, err := get(ctx, s.DB, c.UploadID, false)
	if err != nil {
		return err
	}
	if u.OrgID != c.OrgID || u.ApplicationID != c.AppID || u.StorageKey != c.StorageKey || u.MIME != c.MIME || u.Size != c.Size {
		return ErrInvalidToken // signed by us, but not for this row
	}
	if !u.WrittenAt.IsZero() || !u.ConsumedAt.IsZero() {
		return ErrAlreadyWritten
	}
	if got := NormalizeMIME(p.ContentType); got != c.MIME {
		return &ContentTypeError{Declared: c.MIME, Got: got}
	}
	if p.ContentLength > c.Size {
		return &TooLargeError{Limit: c.Size}
	}

	// Each attempt writes its own object, so concurrent PUTs never mix bytes; the row update picks the winner.
	key := c.StorageKey + "/" + ids.UUID()
	body := &cappedReader{r: p.Body, left: c.Size}
	n, err := s.Objects.Write(ctx, key, body)
	switch {
	case body.tooLarge:
		return &TooLargeError{Limit: c.Size}
	case body.readErr != nil:
		return fmt.Errorf("%w: %w", ErrBodyRead, body.readErr)
	case err != nil:
		return fmt.Errorf("store upload content: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			s.deleteObject(context.WithoutCancel(ctx), key)
		}
	}()

	detected, err := s.detect(ctx, key)
	if err != nil {
		return err
	}
	if !Matches(c.MIME, detected) {
		return &MIMEMismatchError{Declared: c.MIME, Detected: detected}
	}
	res, err := s.DB.ExecContext(ctx, `UPDATE uploads SET written_at = ?, content_key = ?, content_size = ?,
		detected_mime = ? WHERE id = ? AND written_at IS NULL AND consumed_at IS NULL`,
		s.now(), key, n, detected, u.ID)
	if err != nil {
		return fmt.Errorf("record upload content: %w", err)
	}
	if rows, err := res.RowsAffected(); err != nil || rows != 1 {
		return ErrAlreadyWritten // a concurrent PUT won
	}
	keep = true
	return nil
}

func (s *Service) detect(ctx context.Context, key string) (string, error) {
	obj, err := s.Objects.Open(ctx, key)
	if err != nil {
		return "", fmt.Errorf("open upload content: %w", err)
	}
	defer obj.Close()
	return Detect(obj, obj.Size()), nil
}

func (s *Service) deleteObject(ctx context.Context, key string) {
	if err := s.Objects.Delete(ctx, key); err != nil {
		s.Logger.WarnContext(ctx, "uploads: object not deleted", "key", key, "error", err)
	}
}

// cappedReader yields at most left bytes of r and notes whether r had more (tooLarge) or failed (readErr):
// a failed read of the client's body is the client's fault, a failed write is the server's.
type cappedReader struct {
	r        io.Reader
	left     int64
	tooLarge bool
	readErr  error
}

var errTooLarge = errors.New("upload content exceeds the declared size")

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// Probe one byte: exactly the declared size is fine, one more is too large.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.tooLarge = true
			return 0, errTooLarge
		}
		if err != nil && !errors.Is(err, io.EOF) {
			c.readErr = err
		}
		if err == nil {
			return 0, nil
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.readErr = err
	}
	return n, err
}
