package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/uploads"
)

// ErrUploadNotAccepted is an upload whose type or size the file field's fileConstraints refuse.
var ErrUploadNotAccepted = errors.New("upload not accepted by the field")

// UploadError is a file input a run cannot take. Field is the input path (input.doc, input.docs[1]); Err is
// ErrUploadNotAccepted or an error of uploads.Service.Consume (ErrInvalidURI, ErrNotFound, ErrConsumed,
// ErrExpired, ErrNotWritten).
type UploadError struct {
	Field   string
	Message string
	Err     error
}

func (e *UploadError) Error() string { return e.Field + ": " + e.Message }
func (e *UploadError) Unwrap() error { return e.Err }

// fileField is a file input of an agent (PACKAGES.md §2: format "uri" with a contentMediaType, or an array
// of such items) with its fileConstraints.
type fileField struct {
	name    string
	accept  string
	maxSize int64
}

type fileProperty struct {
	Type             any             `json:"type"`
	Format           string          `json:"format"`
	ContentMediaType json.RawMessage `json:"contentMediaType"`
	Items            *fileProperty   `json:"items"`
}

func (p *fileProperty) isFile() bool {
	if p == nil {
		return false
	}
	if p.Format == "uri" && len(p.ContentMediaType) > 0 {
		return true
	}
	return p.Type == "array" && p.Items.isFile()
}

// fileFields lists the file inputs a manifest declares.
func fileFields(manifest []byte) []fileField {
	var m struct {
		Input struct {
			Schema struct {
				Properties map[string]*fileProperty `json:"properties"`
			} `json:"schema"`
			FileConstraints map[string]struct {
				Accept  string   `json:"accept"`
				MaxSize *float64 `json:"maxSize"`
			} `json:"fileConstraints"`
		} `json:"input"`
	}
	if json.Unmarshal(manifest, &m) != nil {
		return nil
	}
	var out []fileField
	for name, prop := range m.Input.Schema.Properties {
		if !prop.isFile() {
			continue
		}
		f := fileField{name: name}
		if fc, ok := m.Input.FileConstraints[name]; ok {
			f.accept = fc.Accept
			if fc.MaxSize != nil && *fc.MaxSize > 0 {
				f.maxSize = int64(*fc.MaxSize)
			}
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b fileField) int { return strings.Compare(a.name, b.name) })
	return out
}

// consumeUploads marks every upload://upl_… reference of the run's file inputs used, inside the transaction
// that creates the run (a refused or rolled back run leaves them usable), and checks each against its
// field's fileConstraints. A file input must hold upload URIs (RUNTIME.md §1, step 2).
func (s *Service) consumeUploads(ctx context.Context, tx store.Querier, c Caller, manifest, input []byte) error {
	if s.Uploads == nil {
		return nil
	}
	fields := fileFields(manifest)
	if len(fields) == 0 {
		return nil
	}
	var values map[string]any
	if err := json.Unmarshal(input, &values); err != nil {
		return fmt.Errorf("decode run input: %w", err)
	}
	for _, f := range fields {
		var items []any
		switch v := values[f.name].(type) {
		case nil:
			continue
		case []any:
			items = v
		default:
			if err := s.consumeUpload(ctx, tx, c, f, "input."+f.name, v); err != nil {
				return err
			}
		}
		for i, item := range items {
			if err := s.consumeUpload(ctx, tx, c, f, "input."+f.name+"["+strconv.Itoa(i)+"]", item); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) consumeUpload(ctx context.Context, tx store.Querier, c Caller, f fileField, path string, ref any) error {
	uri, _ := ref.(string)
	if !strings.HasPrefix(uri, "upload://") {
		return &UploadError{Field: path, Err: uploads.ErrInvalidURI, Message: "a file input takes an upload://upl_… URI (POST /api/uploads)"}
	}
	file, err := s.Uploads.Consume(ctx, tx, c.OrgID, c.AppID, uri)
	if err != nil {
		for _, known := range []error{uploads.ErrInvalidURI, uploads.ErrNotFound, uploads.ErrConsumed, uploads.ErrExpired, uploads.ErrNotWritten} {
			if errors.Is(err, known) {
				return &UploadError{Field: path, Err: err, Message: uri + ": " + err.Error()}
			}
		}
		return err
	}
	if !uploads.Accepts(file, f.accept, f.maxSize) {
		msg := fmt.Sprintf("%s (%s, mime %s, %d bytes) is not accepted", uri, file.Name, file.MIME, file.Size)
		if f.accept != "" {
			msg += "; accepted: " + f.accept
		}
		if f.maxSize > 0 {
			msg += "; max size " + strconv.FormatInt(f.maxSize, 10) + " bytes"
		}
		return &UploadError{Field: path, Err: ErrUploadNotAccepted, Message: msg}
	}
	return nil
}
