package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// problemFromHuma turns an error raised by huma itself (request parsing and validation) into our Problem.
// Validation failures become 400 validation_failed with one FieldError per violation.
func problemFromHuma(ctx huma.Context, status int, msg string, errs ...error) *Problem {
	fields := fieldErrors(errs)
	switch {
	case status == http.StatusUnprocessableEntity || (status == http.StatusBadRequest && len(fields) > 0):
		if len(fields) == 0 {
			fields = []FieldError{{Field: "body", Code: "invalid_request", Message: msg}}
		}
		return BadRequest("validation_failed", validationDetail(fields)).WithErrors(fields...)
	case status == http.StatusRequestEntityTooLarge:
		return NewProblem(status, "payload_too_large", "Request body too large")
	case status >= 500:
		reqID := ""
		if ctx != nil {
			reqID = RequestIDFrom(ctx.Context())
		}
		slog.Error("unhandled error", "requestId", reqID, "error", errors.Join(errs...), "msg", msg)
		return Internal()
	case status == http.StatusBadRequest:
		return BadRequest("invalid_request", msg)
	default:
		return NewProblem(status, codeForStatus(status), msg)
	}
}

// validationDetail is "<field>: <msg>" plus " (+N more)" as upstream renders Zod failures.
func validationDetail(fields []FieldError) string {
	detail := fields[0].Message
	if fields[0].Field != "" {
		detail = fields[0].Field + ": " + detail
	}
	if len(fields) > 1 {
		detail += fmt.Sprintf(" (+%d more)", len(fields)-1)
	}
	return detail
}

func fieldErrors(errs []error) []FieldError {
	var out []FieldError
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d huma.ErrorDetailer
		if !errors.As(err, &d) {
			out = append(out, FieldError{Field: "body", Code: "invalid_request", Message: err.Error()})
			continue
		}
		detail := d.ErrorDetail()
		field := fieldPath(detail.Location)
		code := codeForMessage(detail.Message)
		if code == "required" {
			if prop := requiredProperty(detail.Message); prop != "" {
				field = joinField(field, prop)
			}
		}
		out = append(out, FieldError{Field: field, Code: code, Message: detail.Message})
	}
	return out
}

// fieldPath strips huma's location prefix: "body.items[0].name" → "items[0].name", "query.limit" → "limit".
func fieldPath(location string) string {
	for _, prefix := range []string{"body", "query", "path", "header", "cookie"} {
		if location == prefix {
			return ""
		}
		if rest, ok := strings.CutPrefix(location, prefix+"."); ok {
			return rest
		}
	}
	return location
}

func joinField(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func requiredProperty(msg string) string {
	rest, ok := strings.CutPrefix(msg, "expected required property ")
	if !ok {
		return ""
	}
	prop, _, _ := strings.Cut(rest, " to be present")
	return prop
}

// codeForMessage maps huma's validation messages onto the codes of API.md §3.2.
func codeForMessage(msg string) string {
	switch {
	case strings.HasPrefix(msg, "expected required property"), strings.HasPrefix(msg, "expected property "),
		msg == "request body is required":
		return "required"
	case msg == "unexpected property":
		return "unknown_field"
	case strings.HasPrefix(msg, "expected value to match"), strings.HasPrefix(msg, "expected value to not match"):
		return "invalid_union"
	case strings.HasPrefix(msg, "expected value to be one of"):
		return "invalid_value"
	case strings.HasPrefix(msg, "expected string to"), strings.HasPrefix(msg, "expected duration"):
		return "invalid_format"
	case strings.HasPrefix(msg, "expected number "), strings.HasPrefix(msg, "expected length"),
		strings.HasPrefix(msg, "expected array length"), strings.HasPrefix(msg, "expected object with"):
		return "out_of_range"
	case strings.HasPrefix(msg, "expected array items"):
		return "invalid_element"
	case strings.HasPrefix(msg, "expected "):
		return "invalid_type"
	case strings.HasPrefix(msg, "invalid character"), strings.HasPrefix(msg, "unexpected end of JSON"),
		strings.HasPrefix(msg, "unexpected EOF"):
		return "invalid_request"
	}
	return "invalid_value"
}

// codeForStatus derives a code from the status text: 405 → method_not_allowed.
func codeForStatus(status int) string {
	text := http.StatusText(status)
	if text == "" {
		return "error"
	}
	return strings.ToLower(strings.NewReplacer(" ", "_", "-", "_", "'", "").Replace(text))
}
