package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/appstrate/appstrate-go/internal/config"
)

// Envelope layout (API.md §7).
const (
	// Version is the envelope prefix written and accepted.
	Version = "v1"
	// KeySize is the AES-256 key length in bytes.
	KeySize = 32
	// IVSize is the GCM nonce length in bytes.
	IVSize = 12
	// TagSize is the GCM authentication tag length in bytes.
	TagSize = 16
)

// kidPattern is the key-id syntax of CONNECTION_ENCRYPTION_KEY_ID (PACKAGES.md §4.8).
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

var (
	// ErrMalformed means the value is not a v1 envelope: wrong prefix, missing kid, bad base64 or too short.
	ErrMalformed = errors.New("secrets: malformed envelope")
	// ErrTampered means the envelope names a known key but does not authenticate: it was altered, or
	// encrypted under another key with the same kid.
	ErrTampered = errors.New("secrets: envelope failed authentication")
	// ErrUnknownKey is matched (errors.Is) by every *UnknownKeyError.
	ErrUnknownKey = errors.New("secrets: unknown key id")
)

// UnknownKeyError is returned when an envelope's kid is neither the active nor a retired key.
type UnknownKeyError struct {
	KID string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("secrets: envelope encrypted under unknown key id %q (add it to CONNECTION_ENCRYPTION_KEYS)", e.KID)
}

// Is makes errors.Is(err, ErrUnknownKey) true.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// Keyring holds the active key (used for every write) and the retired keys (read only). It is immutable and
// safe for concurrent use.
type Keyring struct {
	active string
	aeads  map[string]cipher.AEAD
	// random is the IV source; tests replace it to produce fixed vectors.
	random io.Reader
}

// NewKeyring builds a keyring. Every key must be exactly 32 bytes and every kid match ^[A-Za-z0-9_-]{1,32}$;
// retired must not contain activeKID. The key slices are not retained.
func NewKeyring(activeKID string, active []byte, retired map[string][]byte) (*Keyring, error) {
	kr := &Keyring{active: activeKID, aeads: make(map[string]cipher.AEAD, 1+len(retired)), random: rand.Reader}
	if err := kr.add(activeKID, active); err != nil {
		return nil, fmt.Errorf("active key: %w", err)
	}
	kids := make([]string, 0, len(retired))
	for kid := range retired {
		kids = append(kids, kid)
	}
	sort.Strings(kids)
	for _, kid := range kids {
		if kid == activeKID {
			return nil, fmt.Errorf("secrets: retired keys contain the active key id %q", kid)
		}
		if err := kr.add(kid, retired[kid]); err != nil {
			return nil, fmt.Errorf("retired key: %w", err)
		}
	}
	return kr, nil
}

// FromConfig builds the keyring from CONNECTION_ENCRYPTION_KEY, CONNECTION_ENCRYPTION_KEY_ID and
// CONNECTION_ENCRYPTION_KEYS. The configuration must already hold the key (config.EnsureSecrets).
func FromConfig(cfg *config.Config) (*Keyring, error) {
	if len(cfg.ConnectionEncryptionKey) == 0 {
		return nil, errors.New("secrets: CONNECTION_ENCRYPTION_KEY is not set")
	}
	return NewKeyring(cfg.ConnectionEncryptionKeyID, cfg.ConnectionEncryptionKey, cfg.ConnectionEncryptionKeys)
}

func (kr *Keyring) add(kid string, key []byte) error {
	if !kidPattern.MatchString(kid) {
		return fmt.Errorf("secrets: invalid key id %q (expected ^[A-Za-z0-9_-]{1,32}$)", kid)
	}
	if len(key) != KeySize {
		return fmt.Errorf("secrets: key %q is %d bytes, want %d", kid, len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("secrets: key %q: %w", kid, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("secrets: key %q: %w", kid, err)
	}
	kr.aeads[kid] = aead
	return nil
}

// ActiveKID is the key id every Encrypt writes under.
func (kr *Keyring) ActiveKID() string { return kr.active }

// KIDs lists every key id the keyring can read, sorted.
func (kr *Keyring) KIDs() []string {
	out := make([]string, 0, len(kr.aeads))
	for kid := range kr.aeads {
		out = append(out, kid)
	}
	sort.Strings(out)
	return out
}

// Encrypt seals plaintext under the active key with a fresh random 12-byte IV.
func (kr *Keyring) Encrypt(plaintext []byte) (string, error) {
	iv := make([]byte, IVSize)
	if _, err := io.ReadFull(kr.random, iv); err != nil {
		return "", fmt.Errorf("secrets: read random IV: %w", err)
	}
	return kr.seal(iv, plaintext), nil
}

// seal builds the envelope for a given IV. Go's GCM appends the tag to the ciphertext; the envelope puts it
// right after the IV.
func (kr *Keyring) seal(iv, plaintext []byte) string {
	sealed := kr.aeads[kr.active].Seal(nil, iv, plaintext, nil)
	ct, tag := sealed[:len(sealed)-TagSize], sealed[len(sealed)-TagSize:]
	raw := make([]byte, 0, IVSize+TagSize+len(ct))
	raw = append(raw, iv...)
	raw = append(raw, tag...)
	raw = append(raw, ct...)
	return Version + ":" + kr.active + ":" + base64.StdEncoding.EncodeToString(raw)
}

// Decrypt opens an envelope written under the active or a retired key. Errors: ErrMalformed (wrapped),
// *UnknownKeyError, ErrTampered (wrapped). They never include key material or plaintext.
func (kr *Keyring) Decrypt(envelope string) ([]byte, error) {
	kid, payload, err := split(envelope)
	if err != nil {
		return nil, err
	}
	aead, ok := kr.aeads[kid]
	if !ok {
		return nil, &UnknownKeyError{KID: kid}
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not standard base64", ErrMalformed)
	}
	if len(raw) < IVSize+TagSize {
		return nil, fmt.Errorf("%w: payload of %d bytes is shorter than IV and tag", ErrMalformed, len(raw))
	}
	iv, tag, ct := raw[:IVSize], raw[IVSize:IVSize+TagSize], raw[IVSize+TagSize:]
	sealed := make([]byte, 0, len(ct)+TagSize)
	sealed = append(sealed, ct...)
	sealed = append(sealed, tag...)
	plain, err := aead.Open(nil, iv, sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (key id %q)", ErrTampered, kid)
	}
	if plain == nil {
		plain = []byte{}
	}
	return plain, nil
}

// EncryptJSON encodes v as JSON (credential blobs are JSON objects) and encrypts it.
func (kr *Keyring) EncryptJSON(v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("secrets: encode JSON: %w", err)
	}
	return kr.Encrypt(data)
}

// DecryptJSON decrypts an envelope and decodes its JSON plaintext into v.
func (kr *Keyring) DecryptJSON(envelope string, v any) error {
	plain, err := kr.Decrypt(envelope)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(plain, v); err != nil {
		// The JSON error could quote plaintext bytes: keep only its kind.
		return errors.New("secrets: decrypted value is not the expected JSON")
	}
	return nil
}

// NeedsRotation reports whether the envelope is not under the active kid (including values that are not
// envelopes at all).
func (kr *Keyring) NeedsRotation(envelope string) bool {
	kid, _, err := split(envelope)
	return err != nil || kid != kr.active
}

// KIDOf returns the key id an envelope names, without decrypting it.
func KIDOf(envelope string) (string, error) {
	kid, _, err := split(envelope)
	return kid, err
}

func split(envelope string) (kid, payload string, err error) {
	rest, ok := strings.CutPrefix(envelope, Version+":")
	if !ok {
		return "", "", fmt.Errorf("%w: missing %q prefix", ErrMalformed, Version+":")
	}
	kid, payload, ok = strings.Cut(rest, ":")
	if !ok || !kidPattern.MatchString(kid) {
		return "", "", fmt.Errorf("%w: missing or invalid key id", ErrMalformed)
	}
	return kid, payload, nil
}
