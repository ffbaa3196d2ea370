package ids

import (
	"strings"

	"github.com/google/uuid"
)

// Upstream prefixes (API.md §3.1).
const (
	App         = "app_"
	EndUser     = "eu_"
	Webhook     = "wh_"
	Event       = "evt_"
	Run         = "run_"
	Schedule    = "sched_"
	Upload      = "upl_"
	Request     = "req_"
	CLIRefresh  = "crf_"
	OAuthClient = "oac_"
)

// uuidLen is the length of the canonical textual form of a UUID.
const uuidLen = 36

// New returns prefix followed by a fresh random UUID (version 4).
func New(prefix string) string { return prefix + UUID() }

// UUID returns a fresh random UUID (version 4) in canonical lowercase form.
func UUID() string { return uuid.NewString() }

// Valid reports whether id is prefix followed by a UUID in canonical form
// (8-4-4-4-12 hex digits, lowercase). Any UUID version is accepted so that
// rows imported from elsewhere stay addressable.
func Valid(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	return ok && validUUID(rest)
}

// HasPrefix is Valid: an id "has" a prefix only when what follows is a UUID.
func HasPrefix(id, prefix string) bool { return Valid(id, prefix) }

// ValidUUID reports whether s is a UUID in canonical lowercase form.
func ValidUUID(s string) bool { return validUUID(s) }

func validUUID(s string) bool {
	if len(s) != uuidLen {
		return false
	}
	for i := 0; i < uuidLen; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isLowerHex(c) {
				return false
			}
		}
	}
	return true
}

func isLowerHex(c byte) bool { return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') }
