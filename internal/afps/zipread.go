package afps

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf8"
)

// Limits bounds what the ZIP reader accepts from untrusted input.
type Limits struct {
	MaxCompressed int64 // archive byte length
	MaxTotal      int64 // sum of decompressed entry sizes
	MaxEntrySize  int64 // one decompressed entry
	MaxEntries    int   // entries in the central directory (directories included)
	MaxDepth      int   // path segments of one entry (0 = unlimited)
	// An entry larger than RatioMinSize whose decompressed/compressed ratio exceeds MaxRatio is a bomb.
	RatioMinSize int64
	MaxRatio     int64
}

// PackageLimits are the `.afps` limits: 10 MiB compressed and 50 MiB decompressed as upstream; the entry count,
// per-entry size (20 MiB, the bundle per-file limit, so every package can be bundled) and ratio (100:1 above
// 1 MiB) are ours.
var PackageLimits = Limits{
	MaxCompressed: 10 << 20,
	MaxTotal:      50 << 20,
	MaxEntrySize:  20 << 20,
	MaxEntries:    2000,
	RatioMinSize:  1 << 20,
	MaxRatio:      100,
}

// BundleLimits are the `.afps-bundle` limits of PACKAGES.md §1.11 (plus the same ratio rule).
var BundleLimits = Limits{
	MaxCompressed: 50 << 20,
	MaxTotal:      200 << 20,
	MaxEntrySize:  20 << 20,
	MaxEntries:    10000,
	MaxDepth:      16,
	RatioMinSize:  1 << 20,
	MaxRatio:      100,
}

// zipMode selects the sanitiser and the error codes.
type zipMode struct {
	strict   bool // reject bad paths (bundle) instead of dropping them (package)
	tooLarge Code // compressed size
	invalid  Code // unreadable archive, bad or duplicate paths
	bomb     Code // decompression limits
}

var (
	packageMode = zipMode{tooLarge: CodeFileTooLarge, invalid: CodeZipInvalid, bomb: CodeZipBomb}
	bundleMode  = zipMode{strict: true, tooLarge: CodeLimitsExceeded, invalid: CodeArchiveInvalid, bomb: CodeLimitsExceeded}
)

// Archive is the sanitised content of a ZIP: regular files only, keyed by clean relative path.
type Archive struct {
	Files map[string][]byte
	// Dropped lists the entries ignored by the package sanitiser with the reason, e.g.
	// "../evil.txt: path traversal". Always empty for bundles, which reject instead.
	Dropped []string
	// Stripped is the wrapper folder removed from every path ("" when none).
	Stripped string
}

// ReadArchive reads an untrusted `.afps` ZIP with upstream's package sanitiser (PACKAGES.md §1.4): entries with
// a ".." segment, a leading "/", a NUL or a backslash, "__MACOSX/" entries, directories, symlinks and other
// non-regular files, and names that are not UTF-8 are dropped (listed in Dropped), not rejected. Duplicate
// paths (after removing "." and empty segments) are rejected with ZIP_INVALID, since which copy wins would be
// arbitrary. A single wrapper folder holding every entry is stripped. Limits are enforced before and while
// decompressing: FILE_TOO_LARGE for the archive size, ZIP_BOMB for entry count, declared or actual sizes and
// compression ratio.
func ReadArchive(data []byte, lim Limits) (*Archive, error) {
	return readZip(data, lim, packageMode)
}

func readZip(data []byte, lim Limits, mode zipMode) (*Archive, error) {
	if int64(len(data)) > lim.MaxCompressed {
		return nil, newError(mode.tooLarge, fmt.Sprintf("archive is %d bytes, the limit is %d", len(data), lim.MaxCompressed))
	}
	if n, ok := declaredEntries(data); ok && n > lim.MaxEntries {
		return nil, newError(mode.bomb, fmt.Sprintf("archive declares %d entries, the limit is %d", n, lim.MaxEntries))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, &Error{Code: mode.invalid, Message: "not a readable ZIP archive", Err: err}
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, newError(mode.bomb, fmt.Sprintf("archive has %d entries, the limit is %d", len(zr.File), lim.MaxEntries))
	}

	type entry struct {
		f    *zip.File
		path string
	}
	var entries []entry
	ar := &Archive{Files: map[string][]byte{}}
	var declared uint64
	for _, f := range zr.File {
		name := f.Name
		if strings.HasSuffix(name, "/") || f.Mode().IsDir() {
			continue // directories carry no content
		}
		clean, reason := sanitizePath(name, mode.strict)
		if reason == "" && f.Mode()&fs.ModeType != 0 {
			reason = "not a regular file (" + f.Mode().Type().String() + ")"
		}
		if reason == "" && f.Flags&0x1 != 0 {
			return nil, newError(mode.invalid, fmt.Sprintf("%q is encrypted", name))
		}
		if reason != "" {
			if mode.strict {
				return nil, newError(mode.invalid, fmt.Sprintf("%q: %s", name, reason))
			}
			ar.Dropped = append(ar.Dropped, name+": "+reason)
			continue
		}
		if lim.MaxDepth > 0 && strings.Count(clean, "/")+1 > lim.MaxDepth {
			return nil, newError(mode.bomb, fmt.Sprintf("%q is nested deeper than %d levels", name, lim.MaxDepth))
		}
		if f.UncompressedSize64 > uint64(lim.MaxEntrySize) {
			return nil, newError(mode.bomb, fmt.Sprintf("%q declares %d bytes, the per-file limit is %d", name, f.UncompressedSize64, lim.MaxEntrySize))
		}
		if bombRatio(f.UncompressedSize64, f.CompressedSize64, lim) {
			return nil, newError(mode.bomb, fmt.Sprintf("%q has a compression ratio over %d:1", name, lim.MaxRatio))
		}
		declared += f.UncompressedSize64
		if declared > uint64(lim.MaxTotal) {
			return nil, newError(mode.bomb, fmt.Sprintf("archive declares more than %d decompressed bytes", lim.MaxTotal))
		}
		entries = append(entries, entry{f: f, path: clean})
	}

	seen := map[string]string{}
	for _, e := range entries {
		if prev, dup := seen[e.path]; dup {
			return nil, newError(mode.invalid, fmt.Sprintf("duplicate entry %q (also %q)", e.f.Name, prev))
		}
		seen[e.path] = e.f.Name
	}

	var total int64
	for _, e := range entries {
		content, err := readEntry(e.f, lim, lim.MaxTotal-total, mode)
		if err != nil {
			return nil, err
		}
		total += int64(len(content))
		ar.Files[e.path] = content
	}
	if !mode.strict {
		ar.Files, ar.Stripped = stripWrapper(ar.Files)
	}
	return ar, nil
}

// declaredEntries reads the entry count of the end-of-central-directory record, so an archive declaring
// too many entries is refused before archive/zip allocates them. ok is false when the record is not found or
// defers to ZIP64.
func declaredEntries(data []byte) (int, bool) {
	const eocdLen = 22
	start := max(0, len(data)-(eocdLen+0xffff))
	i := bytes.LastIndex(data[start:], []byte("PK\x05\x06"))
	if i < 0 || start+i+eocdLen > len(data) {
		return 0, false
	}
	rec := data[start+i:]
	n := int(binary.LittleEndian.Uint16(rec[10:12]))
	if n == 0xffff {
		return 0, false
	}
	return n, true
}

func bombRatio(uncompressed, compressed uint64, lim Limits) bool {
	if lim.MaxRatio <= 0 || uncompressed <= uint64(lim.RatioMinSize) {
		return false
	}
	return compressed == 0 || uncompressed/compressed > uint64(lim.MaxRatio)
}

// readEntry decompresses one entry, stopping as soon as a limit is crossed whatever the header declared.
func readEntry(f *zip.File, lim Limits, remaining int64, mode zipMode) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, &Error{Code: mode.invalid, Message: fmt.Sprintf("cannot open %q", f.Name), Err: err}
	}
	defer rc.Close()
	limit := min(lim.MaxEntrySize, remaining)
	var buf bytes.Buffer
	chunk := make([]byte, 32<<10)
	for {
		n, rerr := rc.Read(chunk)
		buf.Write(chunk[:n])
		if int64(buf.Len()) > limit {
			return nil, newError(mode.bomb, fmt.Sprintf("%q decompresses past the size limits", f.Name))
		}
		if bombRatio(uint64(buf.Len()), f.CompressedSize64, lim) {
			return nil, newError(mode.bomb, fmt.Sprintf("%q has a compression ratio over %d:1", f.Name, lim.MaxRatio))
		}
		if rerr == io.EOF {
			return buf.Bytes(), nil
		}
		if rerr != nil {
			return nil, &Error{Code: mode.invalid, Message: fmt.Sprintf("cannot read %q", f.Name), Err: rerr}
		}
	}
}

// sanitizePath returns the clean path of an entry, or why it is refused. In strict (bundle) mode empty and "."
// segments are refused too; in package mode they are removed.
func sanitizePath(name string, strict bool) (string, string) {
	switch {
	case !utf8.ValidString(name):
		return "", "name is not UTF-8"
	case strings.ContainsRune(name, 0):
		return "", "NUL in path"
	case strings.Contains(name, "\\"):
		return "", "backslash in path"
	case strings.HasPrefix(name, "/"):
		return "", "absolute path"
	case !strict && strings.HasPrefix(name, "__MACOSX/"):
		return "", "macOS resource fork"
	}
	segs := strings.Split(name, "/")
	kept := segs[:0:0]
	for _, s := range segs {
		switch s {
		case "..":
			return "", "path traversal"
		case "", ".":
			if strict {
				return "", "empty or '.' path segment"
			}
			continue
		}
		kept = append(kept, s)
	}
	if len(kept) == 0 {
		return "", "empty path"
	}
	return strings.Join(kept, "/"), ""
}

// stripWrapper removes a single top-level folder that holds every file; it returns the renamed map and the
// folder ("" and the same map when there is none).
func stripWrapper(files map[string][]byte) (map[string][]byte, string) {
	prefix := ""
	for p := range files {
		top, _, nested := strings.Cut(p, "/")
		if !nested {
			return files, ""
		}
		if prefix == "" {
			prefix = top
		} else if top != prefix {
			return files, ""
		}
	}
	if prefix == "" {
		return files, ""
	}
	out := make(map[string][]byte, len(files))
	for p, content := range files {
		out[strings.TrimPrefix(p, prefix+"/")] = content
	}
	return out, prefix
}
