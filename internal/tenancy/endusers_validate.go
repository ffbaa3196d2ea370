package tenancy

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Limits of end-user fields (API.md §5 item 16). Lengths count Unicode code points.
const (
	EndUserNameMax        = 200
	EndUserEmailMax       = 254 // RFC 5321 path limit; upstream has none, but the column is indexed
	EndUserExternalIDMax  = 255
	MetadataMaxKeys       = 50
	MetadataKeyMax        = 40
	MetadataStringMax     = 500
	endUserViolationLimit = 100 // stop collecting after this many violations
)

// EndUserViolation is one invalid field: Field is a dotted path ("metadata.plan"), Code one of the
// validation codes of API.md §3.2.
type EndUserViolation struct {
	Field   string
	Code    string
	Message string
}

// InvalidEndUserError is returned when an end-user body breaks the rules; it maps to 400 validation_failed.
type InvalidEndUserError struct{ Violations []EndUserViolation }

func (e *InvalidEndUserError) Error() string {
	if len(e.Violations) == 0 {
		return "invalid end-user"
	}
	return "invalid end-user: " + e.Violations[0].Field + ": " + e.Violations[0].Message
}

// validateEndUserFields checks the fields that are being written (nil = not written or cleared).
func validateEndUserFields(name, email, externalID *string, metadata map[string]any) []EndUserViolation {
	var out []EndUserViolation
	if name != nil && utf8.RuneCountInString(*name) > EndUserNameMax {
		out = append(out, EndUserViolation{"name", "out_of_range", fmt.Sprintf("expected at most %d characters", EndUserNameMax)})
	}
	if email != nil {
		switch {
		case utf8.RuneCountInString(*email) > EndUserEmailMax:
			out = append(out, EndUserViolation{"email", "out_of_range", fmt.Sprintf("expected at most %d characters", EndUserEmailMax)})
		case !validEndUserEmail(*email):
			out = append(out, EndUserViolation{"email", "invalid_format", "Invalid email address"})
		}
	}
	if externalID != nil && utf8.RuneCountInString(*externalID) > EndUserExternalIDMax {
		out = append(out, EndUserViolation{"externalId", "out_of_range", fmt.Sprintf("expected at most %d characters", EndUserExternalIDMax)})
	}
	return append(out, ValidateMetadata(metadata)...)
}

// ValidateMetadata checks an end-user metadata object: at most 50 keys of at most 40 characters, each value
// a string of at most 500 characters, a finite number, a boolean or null. Violations come in key order.
func ValidateMetadata(m map[string]any) []EndUserViolation {
	var out []EndUserViolation
	if len(m) > MetadataMaxKeys {
		out = append(out, EndUserViolation{"metadata", "out_of_range", fmt.Sprintf("expected at most %d keys", MetadataMaxKeys)})
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(out) >= endUserViolationLimit {
			break
		}
		field := "metadata." + k
		if utf8.RuneCountInString(k) > MetadataKeyMax {
			out = append(out, EndUserViolation{field, "invalid_key", fmt.Sprintf("keys must be at most %d characters", MetadataKeyMax)})
			continue
		}
		switch v := m[k].(type) {
		case nil, bool:
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				out = append(out, EndUserViolation{field, "invalid_type", "expected a finite number"})
			}
		case int, int64, int32: // values built in Go rather than decoded from JSON
		case string:
			if utf8.RuneCountInString(v) > MetadataStringMax {
				out = append(out, EndUserViolation{field, "out_of_range", fmt.Sprintf("expected at most %d characters", MetadataStringMax)})
			}
		default:
			out = append(out, EndUserViolation{field, "invalid_type", "expected string, number, boolean or null"})
		}
	}
	return out
}

// endUserEmailPattern is Zod's email check (the upstream validator) without its look-aheads, which validEndUserEmail
// applies separately: no leading dot and no ".." in the address.
var endUserEmailPattern = regexp.MustCompile(`(?i)^[a-z0-9_'+\-.]*[a-z0-9_+-]@([a-z0-9][a-z0-9\-]*\.)+[a-z]{2,}$`)

// validEndUserEmail reports whether s is an email address as the upstream API accepts them (the same rule
// as auth.ValidEmail for users).
func validEndUserEmail(s string) bool {
	return s != "" && !strings.HasPrefix(s, ".") && !strings.Contains(s, "..") && endUserEmailPattern.MatchString(s)
}
