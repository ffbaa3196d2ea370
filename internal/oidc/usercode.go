package oidc

import (
	"crypto/rand"
	"strings"
)

// UserCodeAlphabet is the alphabet of user codes: consonants only, so no word and no look-alike digit.
const UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// UserCodeLength is the number of characters of a user code (shown XXXX-XXXX).
const UserCodeLength = 8

// maxUserCodeInput bounds what NormalizeUserCode looks at: anything longer is not a code.
const maxUserCodeInput = 64

// NewUserCode draws a uniformly random user code.
func NewUserCode() string {
	// 256 is not a multiple of 20: reject bytes ≥ 240 so every letter is equally likely.
	const limit = 256 - 256%len(UserCodeAlphabet)
	out := make([]byte, 0, UserCodeLength)
	buf := make([]byte, 16)
	for len(out) < UserCodeLength {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails
		for _, b := range buf {
			if int(b) < limit && len(out) < UserCodeLength {
				out = append(out, UserCodeAlphabet[int(b)%len(UserCodeAlphabet)])
			}
		}
	}
	return string(out)
}

// NormalizeUserCode turns what a user typed into the stored form: dashes and surrounding spaces removed,
// upper-cased. ok is false unless the result is exactly 8 characters of the alphabet.
func NormalizeUserCode(input string) (code string, ok bool) {
	if len(input) > maxUserCodeInput {
		return "", false
	}
	s := strings.ReplaceAll(strings.TrimSpace(input), "-", "")
	if len(s) != UserCodeLength {
		return "", false
	}
	out := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A' // ASCII only: no Unicode case folding into the alphabet
		}
		if strings.IndexByte(UserCodeAlphabet, c) < 0 {
			return "", false
		}
		out[i] = c
	}
	return string(out), true
}

// FormatUserCode renders a stored code for display: XXXX-XXXX.
func FormatUserCode(code string) string {
	if len(code) != UserCodeLength {
		return code
	}
	return code[:4] + "-" + code[4:]
}
