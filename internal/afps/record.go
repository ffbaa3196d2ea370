package afps

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// RecordFile is the per-package file manifest inside a bundle.
const RecordFile = "RECORD"

// RecordEntry is one RECORD line: "<path>,sha256=<base64 without padding>,<size>".
type RecordEntry struct {
	Path string
	Hash string // "sha256=<base64 without padding>"
	Size int64
}

// BuildRecord returns the canonical RECORD of a package's files (RECORD itself excluded): one line per file,
// sorted by path in UTF-16 order, LF line ends, a single trailing newline, empty when there are no files.
func BuildRecord(files map[string][]byte) []byte {
	var buf bytes.Buffer
	for _, p := range sortedPaths(files) {
		if p == RecordFile {
			continue
		}
		buf.WriteString(p)
		buf.WriteByte(',')
		buf.WriteString(recordHash(files[p]))
		buf.WriteByte(',')
		buf.WriteString(strconv.Itoa(len(files[p])))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// ParseRecord parses RECORD bytes. The path is everything before the last two commas, so paths may contain
// commas. Blank lines, CR, a missing final newline, bad hashes or sizes and duplicate paths are malformed.
func ParseRecord(data []byte) ([]RecordEntry, error) {
	if len(data) == 0 {
		return nil, nil
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("RECORD does not end with a newline")
	}
	seen := map[string]bool{}
	var out []RecordEntry
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		sizeAt := strings.LastIndexByte(line, ',')
		if sizeAt < 0 {
			return nil, fmt.Errorf("RECORD line %d: want <path>,sha256=<hash>,<size>", i+1)
		}
		hashAt := strings.LastIndexByte(line[:sizeAt], ',')
		if hashAt <= 0 {
			return nil, fmt.Errorf("RECORD line %d: want <path>,sha256=<hash>,<size>", i+1)
		}
		path, hash, sizeStr := line[:hashAt], line[hashAt+1:sizeAt], line[sizeAt+1:]
		if strings.ContainsAny(path, "\r") || !strings.HasPrefix(hash, "sha256=") || len(hash) != len("sha256=")+43 {
			return nil, fmt.Errorf("RECORD line %d: malformed path or hash", i+1)
		}
		size, err := strconv.ParseInt(sizeStr, 10, 64)
		if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeStr {
			return nil, fmt.Errorf("RECORD line %d: malformed size %q", i+1, sizeStr)
		}
		if seen[path] {
			return nil, fmt.Errorf("RECORD line %d: duplicate path %q", i+1, path)
		}
		seen[path] = true
		out = append(out, RecordEntry{Path: path, Hash: hash, Size: size})
	}
	return out, nil
}
