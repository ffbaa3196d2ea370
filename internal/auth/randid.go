package auth

import (
	"crypto/rand"
)

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// GenerateID returns n random characters of [a-zA-Z0-9], as Better Auth's generateId: the form of user,
// session, account and verification ids and of session tokens (32 chars ≈ 190 bits).
func GenerateID(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails (it aborts the process instead)
		for _, b := range buf {
			// 62*4 = 248: rejecting bytes ≥ 248 keeps every character equally likely.
			if b < 248 && len(out) < n {
				out = append(out, idAlphabet[b%62])
			}
		}
	}
	return string(out)
}
