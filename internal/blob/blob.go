package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrNotFound is returned by Get for a missing object.
var ErrNotFound = errors.New("blob: not found")

// ErrInvalidKey is returned for bucket or key names that could escape their bucket.
var ErrInvalidKey = errors.New("blob: invalid key")

// Store holds objects by bucket and key. Keys are slash-separated relative paths ("@acme/x/1.2.0.afps").
type Store interface {
	Put(ctx context.Context, bucket, key string, data []byte) error
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	Delete(ctx context.Context, bucket, key string) error // deleting a missing object is not an error
	Exists(ctx context.Context, bucket, key string) (bool, error)
}

// FS is a Store on the local filesystem: <Root>/<bucket>/<key>, files 0600, directories 0700, writes atomic.
type FS struct{ Root string }

// NewFS returns a filesystem store rooted at root (created on first write).
func NewFS(root string) *FS { return &FS{Root: root} }

func (s *FS) path(bucket, key string) (string, error) {
	if !validName(bucket) || strings.Contains(bucket, "/") || !validKey(key) {
		return "", fmt.Errorf("%w: %s/%s", ErrInvalidKey, bucket, key)
	}
	return filepath.Join(s.Root, bucket, filepath.FromSlash(key)), nil
}

// validKey accepts relative, clean, slash-separated keys without empty, "." or ".." segments.
func validKey(key string) bool {
	if key == "" || strings.HasPrefix(key, "/") || strings.ContainsAny(key, "\\\x00") || path.Clean(key) != key {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if !validName(seg) {
			return false
		}
	}
	return true
}

func validName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "\\\x00")
}

// Put writes data atomically (temp file + rename).
func (s *FS) Put(_ context.Context, bucket, key string, data []byte) error {
	p, err := s.path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("blob: put %s/%s: %w", bucket, key, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("blob: put %s/%s: %w", bucket, key, err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	_, err = f.Write(data)
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
		return fmt.Errorf("blob: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Get reads an object; ErrNotFound when it does not exist.
func (s *FS) Get(_ context.Context, bucket, key string) ([]byte, error) {
	p, err := s.path(bucket, key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blob: get %s/%s: %w", bucket, key, err)
	}
	return b, nil
}

// Delete removes an object.
func (s *FS) Delete(_ context.Context, bucket, key string) error {
	p, err := s.path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Exists reports whether an object exists.
func (s *FS) Exists(_ context.Context, bucket, key string) (bool, error) {
	p, err := s.path(bucket, key)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
