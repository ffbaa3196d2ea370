package authroutes

import (
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"
)

// str is a required string member of a request body that remembers whether it was present, so a missing
// (or null) member is a VALIDATION_ERROR as with Better Auth's Zod schemas, while "" reaches the rules.
type str struct {
	v   string
	set bool
}

// UnmarshalJSON implements json.Unmarshaler; null leaves the member unset.
func (s *str) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = str{}
		return nil
	}
	if err := json.Unmarshal(b, &s.v); err != nil {
		return err
	}
	s.set = true
	return nil
}

// Schema documents the member as a plain string.
func (str) Schema(huma.Registry) *huma.Schema { return &huma.Schema{Type: huma.TypeString} }

// required reports the first missing member as a VALIDATION_ERROR; args are name, value pairs.
func required(fields ...any) error {
	for i := 0; i+1 < len(fields); i += 2 {
		name, _ := fields[i].(string)
		if s, ok := fields[i+1].(str); ok && !s.set {
			return validationError("[body." + name + "] Invalid input: expected string, received undefined")
		}
	}
	return nil
}
