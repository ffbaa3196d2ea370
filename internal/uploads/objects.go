package uploads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrObjectNotFound is returned by Objects.Open for a missing object.
var ErrObjectNotFound = errors.New("uploads: object not found")

// Object is a stored upload opened for reading, sequentially or at offsets (the MIME sniffer reads the ZIP
// directory at the end of a file).
type Object interface {
	io.ReadCloser
	io.ReaderAt
	Size() int64
}

// Objects is the object storage of uploads. Unlike blob.Store it streams: an upload is never held in
// memory. Keys are slash-separated segments of letters, digits, '_' and '-'.
type Objects interface {
	// Write stores everything r yields under key, atomically: on error nothing is left under key.
	Write(ctx context.Context, key string, r io.Reader) (int64, error)
	Open(ctx context.Context, key string) (Object, error)
	Delete(ctx context.Context, key string) error // deleting a missing object is not an error
}

// FSObjects keeps uploads on the local filesystem under Root (FS_STORAGE_PATH/uploads): files 0600,
// directories 0700, writes through a temporary file renamed into place.
type FSObjects struct{ Root string }

// NewFSObjects returns the filesystem object store rooted at root (created on first write).
func NewFSObjects(root string) *FSObjects { return &FSObjects{Root: root} }

func (s *FSObjects) path(key string) (string, error) {
	if !validObjectKey(key) {
		return "", fmt.Errorf("uploads: invalid object key %q", key)
	}
	return filepath.Join(s.Root, filepath.FromSlash(key)), nil
}

// validObjectKey accepts non-empty slash-separated segments of [A-Za-z0-9_-] (ids and UUIDs).
func validObjectKey(key string) bool {
	if key == "" || len(key) > 512 {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" {
			return false
		}
		for _, c := range seg {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Write streams r into key. ctx cancellation is noticed between reads.
func (s *FSObjects) Write(ctx context.Context, key string, r io.Reader) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return 0, fmt.Errorf("uploads: write %s: %w", key, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("uploads: write %s: %w", key, err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	n, err := io.Copy(f, ctxReader{ctx: ctx, r: r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		return n, fmt.Errorf("uploads: write %s: %w", key, err)
	}
	return n, nil
}

// Open opens key for reading.
func (s *FSObjects) Open(_ context.Context, key string) (Object, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrObjectNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("uploads: open %s: %w", key, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("uploads: open %s: %w", key, err)
	}
	return fileObject{File: f, size: info.Size()}, nil
}

// Delete removes key; empty parent directories stay (they are reused by the application's next uploads).
func (s *FSObjects) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("uploads: delete %s: %w", key, err)
	}
	return nil
}

type fileObject struct {
	*os.File
	size int64
}

func (f fileObject) Size() int64 { return f.size }

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
