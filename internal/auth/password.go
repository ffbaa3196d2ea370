package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"
)

// Password length bounds of Better Auth's email+password provider, in characters.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// scrypt parameters of Better Auth's password hasher.
const (
	scryptN      = 16384
	scryptR      = 16
	scryptP      = 1
	scryptKeyLen = 64
	saltBytes    = 16
)

// ErrInvalidPasswordHash means a stored hash is not `<saltHex>:<keyHex>`.
var ErrInvalidPasswordHash = errors.New("auth: invalid password hash")

// HashPassword hashes password the way Better Auth does, so rows move freely between the two: scrypt
// (N=16384, r=16, p=1, 64-byte key) over the NFKC-normalised password, salted with the 32-char lowercase
// hex rendering of 16 random bytes (the hex text itself is the salt), stored as `<saltHex>:<keyHex>`.
func HashPassword(password string) (string, error) {
	raw := make([]byte, saltBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("auth: password salt: %w", err)
	}
	return hashPasswordWithSalt(password, hex.EncodeToString(raw))
}

func hashPasswordWithSalt(password, salt string) (string, error) {
	key, err := deriveKey(password, salt)
	if err != nil {
		return "", err
	}
	return salt + ":" + hex.EncodeToString(key), nil
}

func deriveKey(password, salt string) ([]byte, error) {
	key, err := scryptKey([]byte(norm.NFKC.String(password)), []byte(salt), scryptN, scryptR, scryptP, scryptKeyLen)
	if err != nil {
		return nil, fmt.Errorf("auth: scrypt: %w", err)
	}
	return key, nil
}

// CheckPasswordHash reports whether password matches a `<saltHex>:<keyHex>` hash, in constant time with
// respect to the key. A malformed hash is an error, never a match.
func CheckPasswordHash(hash, password string) (bool, error) {
	salt, keyHex, ok := strings.Cut(hash, ":")
	if !ok || salt == "" || keyHex == "" {
		return false, ErrInvalidPasswordHash
	}
	want, err := hex.DecodeString(keyHex)
	if err != nil || len(want) == 0 {
		return false, ErrInvalidPasswordHash
	}
	got, err := deriveKey(password, salt)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// PasswordLengthError is returned when a password is outside [MinPasswordLength, MaxPasswordLength].
type PasswordLengthError struct{ TooLong bool }

func (e *PasswordLengthError) Error() string {
	if e.TooLong {
		return "auth: password too long"
	}
	return "auth: password too short"
}

// CheckPasswordLength enforces the length bounds, counted as JavaScript's String.length counts them
// (UTF-16 code units), so the same passwords pass here and upstream.
func CheckPasswordLength(password string) error {
	n := 0
	for _, r := range password {
		n += utf16.RuneLen(r) // a Go string never yields surrogates, so this is 1 or 2
	}
	switch {
	case n < MinPasswordLength:
		return &PasswordLengthError{}
	case n > MaxPasswordLength:
		return &PasswordLengthError{TooLong: true}
	}
	return nil
}
