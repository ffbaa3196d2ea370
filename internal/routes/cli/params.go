package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxParamsBody bounds the body of the OAuth endpoints.
const maxParamsBody = 64 << 10

// errParams is the invalid_request description of an unreadable body.
type errParams struct{ msg string }

func (e *errParams) Error() string { return e.msg }

// readParams reads the parameters of an OAuth request from its body, form-urlencoded or JSON (Better Auth's
// catch-all rewrote forms to JSON; both are accepted here). Without a recognised Content-Type, a body whose
// first non-space byte is `{` is JSON, anything else a form.
func readParams(r *http.Request) (map[string]string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxParamsBody+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &errParams{"Request body too large."}
		}
		return nil, &errParams{"Unreadable request body."}
	}
	if len(body) > maxParamsBody {
		return nil, &errParams{"Request body too large."}
	}
	return parseParams(r.Header.Get("Content-Type"), body)
}

// parseParams decodes body by content type.
func parseParams(contentType string, body []byte) (map[string]string, error) {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mediaType == "application/x-www-form-urlencoded":
		return parseForm(body)
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		return parseJSON(body)
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '{' {
		return parseJSON(body)
	}
	return parseForm(body)
}

// parseForm reads a form body; a repeated parameter is refused (RFC 6749 §3.2).
func parseForm(body []byte) (map[string]string, error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &errParams{"Malformed form body."}
	}
	out := make(map[string]string, len(values))
	for k, v := range values {
		if len(v) > 1 {
			return nil, &errParams{"Parameter " + quoteName(k) + " is repeated."}
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v[0]) {
			return nil, &errParams{"Parameters must be UTF-8."}
		}
		out[k] = v[0]
	}
	return out, nil
}

// parseJSON reads a JSON object of strings (null members are absent; an empty body is an empty object).
func parseJSON(body []byte) (map[string]string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]string{}, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, &errParams{"Malformed JSON body: expected an object."}
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if string(v) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, &errParams{"Parameter " + quoteName(k) + " must be a string."}
		}
		out[k] = s
	}
	return out, nil
}

// quoteName renders a parameter name for an error message, bounded and printable.
func quoteName(k string) string {
	if len(k) > 40 {
		k = k[:40] + "…"
	}
	return strings.ToValidUTF8(`"`+strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, k)+`"`, "")
}
