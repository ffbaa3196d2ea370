package endusers

import (
	"bytes"
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"
)

// optString is a body member that remembers whether it was sent: absent (Set false), null (Set true,
// Value nil) or a string.
type optString struct {
	Set   bool
	Value *string
}

// UnmarshalJSON is called for every present member, null included.
func (o *optString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	o.Value = &s
	return nil
}

// Schema documents the member as a nullable string (field tags add the limits).
func (optString) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Nullable: true}
}

// optMetadata is the metadata member: absent, null or an object.
type optMetadata struct {
	Set   bool
	Value map[string]any
}

// UnmarshalJSON is called for every present member, null included.
func (o *optMetadata) UnmarshalJSON(b []byte) error {
	o.Set = true
	o.Value = nil
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Schema documents the member as a nullable object of scalar values.
func (optMetadata) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, Nullable: true, MaxProperties: ptr(50), AdditionalProperties: true}
}

func ptr[T any](v T) *T { return &v }
