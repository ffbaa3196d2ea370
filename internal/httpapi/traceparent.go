package httpapi

import "strings"

// Traceparent is a parsed W3C Trace Context `traceparent` header.
type Traceparent struct {
	Version  string
	TraceID  string
	ParentID string
	Flags    string
}

// ParseTraceparent parses "vv-<32 hex>-<16 hex>-ff" per W3C Trace Context level 1: lowercase hex only,
// version ff forbidden, all-zero trace and parent ids forbidden, version 00 has exactly four fields and
// later versions may append fields.
func ParseTraceparent(s string) (Traceparent, bool) {
	parts := strings.Split(s, "-")
	if len(parts) < 4 {
		return Traceparent{}, false
	}
	tp := Traceparent{Version: parts[0], TraceID: parts[1], ParentID: parts[2], Flags: parts[3]}
	switch {
	case !isLowerHex(tp.Version, 2), tp.Version == "ff":
		return Traceparent{}, false
	case tp.Version == "00" && len(parts) != 4:
		return Traceparent{}, false
	case !isLowerHex(tp.TraceID, 32), allZero(tp.TraceID):
		return Traceparent{}, false
	case !isLowerHex(tp.ParentID, 16), allZero(tp.ParentID):
		return Traceparent{}, false
	case !isLowerHex(tp.Flags, 2):
		return Traceparent{}, false
	}
	return tp, true
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool { return strings.Trim(s, "0") == "" }
