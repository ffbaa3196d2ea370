package sidecar

import (
	"context"
	"encoding/base64"
	"mime"
	"strings"
	"sync"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/mcp"
)

// DefaultBlobStoreBytes caps the blob store of one run.
const DefaultBlobStoreBytes = 256 << 20

// blobURIPrefix starts every blob URI: appstrate://provider-response/<runId>/<id>.
const blobURIPrefix = "appstrate://provider-response/"

// blobStore keeps tool outputs too large to inline, readable with resources/read, in memory for the run.
type blobStore struct {
	runID string
	limit int64

	mu    sync.Mutex
	used  int64
	items map[string]blob
}

type blob struct {
	data     []byte
	mimeType string
}

func newBlobStore(runID string, limit int64) *blobStore {
	return &blobStore{runID: runID, limit: limit, items: map[string]blob{}}
}

// put stores data and returns its URI; ok is false when the store has no room left.
func (s *blobStore) put(data []byte, mimeType string) (uri string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used+int64(len(data)) > s.limit {
		return "", false
	}
	uri = blobURIPrefix + s.runID + "/" + ids.UUID()
	s.items[uri] = blob{data: data, mimeType: mimeType}
	s.used += int64(len(data))
	return uri, true
}

// read is the resources/read callback: text MIME types come back as text, others as base64 blobs; an
// unknown URI is an InvalidParams error.
func (s *blobStore) read(_ context.Context, uri string) (*mcp.ReadResourceResult, error) {
	s.mu.Lock()
	b, ok := s.items[uri]
	s.mu.Unlock()
	if !ok {
		return nil, mcp.NewError(mcp.CodeInvalidParams, "Resource not found: "+uri)
	}
	c := mcp.ResourceContents{URI: uri, MimeType: b.mimeType}
	if isTextLike(b.mimeType) {
		c.Text = strings.ToValidUTF8(string(b.data), "\uFFFD")
	} else {
		c.Blob, c.IsBlob = base64.StdEncoding.EncodeToString(b.data), true
	}
	return &mcp.ReadResourceResult{Contents: []mcp.ResourceContents{c}}, nil
}

// isTextLike reports whether a content type is inlined as text: text/*, and anything JSON or XML.
func isTextLike(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	return strings.HasPrefix(mt, "text/") || strings.Contains(mt, "json") || strings.Contains(mt, "xml")
}
