package apiclient

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// Claims decodes the payload of a JWT without checking its signature (the CLI only reads its own token).
func Claims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errors.New("token is not a JWT: bad payload encoding")
	}
	var claims map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, errors.New("token is not a JWT: payload is not a JSON object")
	}
	return claims, nil
}

// StringClaim returns a non-empty string claim.
func StringClaim(claims map[string]any, name string) (string, bool) {
	s, ok := claims[name].(string)
	return s, ok && s != ""
}
