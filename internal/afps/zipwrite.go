package afps

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// PinnedModTime is the modification time of every entry the writers produce (upstream's bundle epoch).
var PinnedModTime = time.Date(1980, 1, 2, 12, 0, 0, 0, time.UTC)

// DeflateLevel is the compression level of `.afps` archives (upstream zipArtifact).
const DeflateLevel = 6

// WritePackage writes files as a deterministic `.afps` ZIP: entries sorted by path (UTF-16 order, as
// upstream), deflate level 6, mtime pinned to PinnedModTime, mode 0644, no directory entries. The same files
// always give the same bytes, hence the same SRI.
func WritePackage(files map[string][]byte) ([]byte, error) {
	return writeZip(files, zip.Deflate)
}

// WriteStoredPackage writes files like WritePackage but uncompressed (STORE), the form upstream uses for
// archives it reconstructs from a bundle.
func WriteStoredPackage(files map[string][]byte) ([]byte, error) {
	return writeZip(files, zip.Store)
}

func writeZip(files map[string][]byte, method uint16) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, newPooledDeflater)
	for _, p := range sortedPaths(files) {
		if clean, reason := sanitizePath(p, true); reason != "" || clean != p {
			return nil, fmt.Errorf("afps: cannot write entry %q: %s", p, firstNonEmpty(reason, "not a clean relative path"))
		}
		h := &zip.FileHeader{Name: p, Method: method, Modified: PinnedModTime}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, fmt.Errorf("afps: write %q: %w", p, err)
		}
		if _, err := w.Write(files[p]); err != nil {
			return nil, fmt.Errorf("afps: write %q: %w", p, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("afps: close zip: %w", err)
	}
	return buf.Bytes(), nil
}

// deflaters reuses level-6 compressors: allocating one per entry cost ~1.7 MB each and dominated the first
// boot (66 system archives). Reset compressors produce byte-identical output.
var deflaters sync.Pool

func newPooledDeflater(w io.Writer) (io.WriteCloser, error) {
	if fw, ok := deflaters.Get().(*flate.Writer); ok {
		fw.Reset(w)
		return &pooledDeflater{fw}, nil
	}
	fw, err := flate.NewWriter(w, DeflateLevel)
	if err != nil {
		return nil, err
	}
	return &pooledDeflater{fw}, nil
}

type pooledDeflater struct{ fw *flate.Writer }

func (d *pooledDeflater) Write(p []byte) (int, error) { return d.fw.Write(p) }

// Close ends the stream and returns the compressor to the pool.
func (d *pooledDeflater) Close() error {
	err := d.fw.Close()
	deflaters.Put(d.fw)
	d.fw = nil
	return err
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sortedPaths returns the keys sorted by UTF-16 code units (JavaScript order; byte order for ASCII).
func sortedPaths(files map[string][]byte) []string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareUTF16)
	return keys
}

// Pack validates files as a package and writes its deterministic `.afps`; it returns the archive bytes and
// their SRI.
func Pack(files map[string][]byte, opts ValidateOptions) ([]byte, string, error) {
	if _, err := LoadPackage(files, opts); err != nil {
		return nil, "", err
	}
	data, err := WritePackage(files)
	if err != nil {
		return nil, "", err
	}
	return data, SRI(data), nil
}
