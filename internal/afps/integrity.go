package afps

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SRIPrefix is the only algorithm AFPS uses.
const SRIPrefix = "sha256-"

// ErrInvalidSRI is returned by ParseSRI for anything other than "sha256-<standard base64 of 32 bytes>".
var ErrInvalidSRI = errors.New("invalid SRI integrity string")

// SRI returns the W3C Subresource Integrity string of data: "sha256-" + standard base64 (with padding).
func SRI(data []byte) string {
	sum := sha256.Sum256(data)
	return SRIPrefix + base64.StdEncoding.EncodeToString(sum[:])
}

// ParseSRI returns the SHA-256 digest of an SRI string.
func ParseSRI(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SRIPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: want the %q prefix", ErrInvalidSRI, SRIPrefix)
	}
	digest, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(digest) != sha256.Size {
		return nil, fmt.Errorf("%w: want standard base64 of %d bytes", ErrInvalidSRI, sha256.Size)
	}
	return digest, nil
}

// VerifySRI reports whether data hashes to expected; the digests are compared in constant time. A malformed
// expected value never verifies.
func VerifySRI(data []byte, expected string) bool {
	want, err := ParseSRI(expected)
	if err != nil {
		return false
	}
	got := sha256.Sum256(data)
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// EqualSRI compares two integrity strings in constant time when their lengths match.
func EqualSRI(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// recordHash is the RECORD hash field: "sha256=" + base64 without padding.
func recordHash(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256=" + base64.RawStdEncoding.EncodeToString(sum[:])
}
