package runs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/appstrate/appstrate-go/internal/ids"
)

// Token returns the run token of runID (API.md §3.8): `<runId>.<hex HMAC-SHA256(secret, runId)>`; with an
// empty secret the MAC degenerates to an unkeyed SHA-256, as upstream.
func Token(secret, runID string) string {
	return runID + "." + hex.EncodeToString(tokenMAC(secret, runID))
}

func tokenMAC(secret, runID string) []byte {
	if secret == "" {
		sum := sha256.Sum256([]byte(runID))
		return sum[:]
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(runID))
	return m.Sum(nil)
}

// VerifyToken checks a run token and returns its run id (ok false for anything malformed or forged). The
// comparison is constant-time.
func VerifyToken(secret, token string) (runID string, ok bool) {
	runID, mac, found := strings.Cut(token, ".")
	if !found || !ids.Valid(runID, ids.Run) || len(mac) != 2*sha256.Size {
		return "", false
	}
	got, err := hex.DecodeString(mac)
	if err != nil {
		return "", false
	}
	if !hmac.Equal(got, tokenMAC(secret, runID)) {
		return "", false
	}
	return runID, true
}
