package uploads

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/ids"
)

// ErrInvalidToken: the upload token is missing, malformed or not signed with the upload signing secret.
var ErrInvalidToken = errors.New("invalid upload token")

// maxTokenLen bounds the token before any decoding; real tokens are about 400 characters.
const maxTokenLen = 2048

// Claims are what an upload token grants: one PUT of at most Size bytes of type MIME into the object
// StorageKey of upload UploadID (of OrgID/AppID), until Expires.
type Claims struct {
	StorageKey string `json:"k"`
	Expires    int64  `json:"e"` // unix milliseconds
	Size       int64  `json:"s"` // the declared size: the most bytes the PUT may carry
	MIME       string `json:"m"` // the declared (normalised) type: the PUT's Content-Type must equal it
	UploadID   string `json:"u"`
	OrgID      string `json:"o"`
	AppID      string `json:"a"`
}

// ExpiresAt is Expires as a time.
func (c Claims) ExpiresAt() time.Time { return time.UnixMilli(c.Expires) }

// SignToken renders c as `<b64url(json)>.<b64url(HMAC-SHA256(secret, b64url(json)))>` (base64url without
// padding). The MAC covers the encoded payload, so a verifier never decodes unauthenticated bytes.
func SignToken(secret []byte, c Claims) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("uploads: no signing secret")
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac(secret, payload)), nil
}

// ParseToken checks the signature of token in constant time, then decodes and validates its claims. Every
// failure is ErrInvalidToken; expiry is the caller's to check.
func ParseToken(secret []byte, token string) (Claims, error) {
	if len(secret) == 0 || len(token) > maxTokenLen {
		return Claims{}, ErrInvalidToken
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || payload == "" || strings.Contains(sig, ".") {
		return Claims{}, ErrInvalidToken
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, payload)) {
		return Claims{}, ErrInvalidToken
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return Claims{}, ErrInvalidToken
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return Claims{}, ErrInvalidToken
	}
	if !ids.Valid(c.UploadID, ids.Upload) || c.OrgID == "" || c.AppID == "" || c.StorageKey == "" ||
		c.Size < 0 || c.Expires <= 0 || NormalizeMIME(c.MIME) != c.MIME {
		return Claims{}, ErrInvalidToken
	}
	return c, nil
}

func mac(secret []byte, payload string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(payload))
	return h.Sum(nil)
}
