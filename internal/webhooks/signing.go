package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SecretPrefix starts every webhook signing secret.
const SecretPrefix = "whsec_"

// Standard Webhooks headers of every delivery (PLATFORM.md §2.3).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	HeaderAttempt   = "webhook-attempt"
)

// NewSecret returns a fresh signing secret: whsec_ followed by 32 random bytes in unpadded base64url.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// secretKey returns the HMAC key of a secret: the base64url decoding of what follows whsec_ (padding
// tolerated).
func secretKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhooks: secret without the whsec_ prefix")
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhooks: secret is not base64url")
	}
	return key, nil
}

// Sign returns the webhook-signature header value for one message: one `v1,<base64 HMAC-SHA256>` per
// secret, separated by spaces, over "<id>.<timestamp>.<body>".
func Sign(id string, timestamp int64, body []byte, secrets ...string) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("webhooks: no secret to sign with")
	}
	content := make([]byte, 0, len(id)+len(body)+24)
	content = append(content, id...)
	content = append(content, '.')
	content = strconv.AppendInt(content, timestamp, 10)
	content = append(content, '.')
	content = append(content, body...)
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(content)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
