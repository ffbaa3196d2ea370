package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of API.md §3.6.
const (
	// TTL is how long a key is remembered after its first use.
	TTL = 24 * time.Hour
	// MaxKeyLength is the longest accepted key, in characters.
	MaxKeyLength = 255
	// MaxResponseBytes is the largest response body that is stored; a larger response releases the key.
	MaxResponseBytes = 1 << 20
	// DefaultLease is how long a key stays "in progress" without being completed or released before it is
	// considered abandoned (the process died mid-request) and may be taken again.
	DefaultLease = 10 * time.Minute
)

// State is the result of Begin.
type State string

// The outcomes of Begin.
const (
	// StateNew: the caller holds the key and must Complete or Release it with Outcome.Token.
	StateNew State = "new"
	// StateReplay: a request with the same body completed; Outcome.Stored is its response.
	StateReplay State = "replay"
	// StateConflict: a request with a different body completed under this key.
	StateConflict State = "conflict"
	// StateInProgress: another request holds the key.
	StateInProgress State = "in_progress"
)

// Response is what is stored for a completed request.
type Response struct {
	Status int
	Header http.Header // only the headers worth replaying (the HTTP glue chooses them)
	Body   []byte
}

// Outcome is the answer of Begin.
type Outcome struct {
	State  State
	Token  string    // StateNew: proves ownership to Complete and Release
	Stored *Response // StateReplay: the response to send again
}

// Store remembers idempotency keys. Keys are unique per scope, which the caller builds (organization,
// application, method and path). All methods are safe for concurrent use across processes sharing the
// backing storage.
type Store interface {
	// Begin claims key in scope for a request whose body hashes to bodyHash, remembered for ttl. Exactly
	// one of concurrent callers gets StateNew. Expired keys, and keys left in progress beyond the store's
	// lease, count as absent.
	Begin(ctx context.Context, scope, key, bodyHash string, ttl time.Duration) (Outcome, error)
	// Complete stores the response of the request that holds token. It returns ErrNotHeld when the key is
	// no longer held by token (released, or taken over after the lease ran out).
	Complete(ctx context.Context, scope, key, token string, resp Response) error
	// Release forgets the key if token still holds it, so the client may retry. Releasing a key no longer
	// held is not an error.
	Release(ctx context.Context, scope, key, token string) error
}

// ErrNotHeld is returned by Complete when the token no longer holds the key.
var ErrNotHeld = errors.New("idempotency: key no longer held by this request")

// ErrInvalidKey is returned (wrapped) by ValidateKey.
var ErrInvalidKey = errors.New("invalid idempotency key")

// ValidateKey checks an Idempotency-Key header value: 1 to MaxKeyLength characters of valid UTF-8 without
// control characters (the storage rejects NUL and invalid UTF-8 in text columns).
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: the key is empty", ErrInvalidKey)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: the key is not valid UTF-8", ErrInvalidKey)
	case utf8.RuneCountInString(key) > MaxKeyLength:
		return fmt.Errorf("%w: the key exceeds %d characters", ErrInvalidKey, MaxKeyLength)
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: the key contains control characters", ErrInvalidKey)
		}
	}
	return nil
}

// HashBody returns the lowercase hex SHA-256 of a request body.
func HashBody(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// newToken returns a random lease token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// leaseFor is the in-progress lease of a Begin with ttl: the store lease, capped by ttl.
func leaseFor(lease, ttl time.Duration) time.Duration {
	if lease <= 0 {
		lease = DefaultLease
	}
	return min(lease, ttl)
}

// clone copies a response so stored values are never shared with callers.
func (r Response) clone() Response {
	return Response{Status: r.Status, Header: r.Header.Clone(), Body: append([]byte(nil), r.Body...)}
}
