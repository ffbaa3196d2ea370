package credentials

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalidURL is matched by every *InvalidURLError.
	ErrInvalidURL = errors.New("credentials: invalid target URL")
	// ErrNotAuthorized is matched by every *NotAuthorizedError.
	ErrNotAuthorized = errors.New("credentials: URL not authorized for provider")
	// ErrUnresolvedPlaceholder is matched by every *PlaceholderError.
	ErrUnresolvedPlaceholder = errors.New("credentials: unresolved placeholder")
	// ErrBodyTooLarge is returned when a body to substitute exceeds Options.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("credentials: request body too large for placeholder substitution")
	// ErrInvalidHeader is returned when a substituted header value would contain CR, LF or NUL.
	ErrInvalidHeader = errors.New("credentials: invalid header value after substitution")
)

// InvalidURLError says why a target URL was refused before any matching (unparseable, not http(s),
// userinfo, fragment, bad host, encoded slash, …). It never quotes the URL, which may hold credentials.
type InvalidURLError struct {
	Reason string
}

func (e *InvalidURLError) Error() string { return "credentials: invalid target URL: " + e.Reason }

// Is makes errors.Is(err, ErrInvalidURL) true.
func (e *InvalidURLError) Is(target error) bool { return target == ErrInvalidURL }

// NotAuthorizedError is returned when a URL matches none of the provider's authorizedUris (or the provider
// has none and does not allow all URIs). It names the host, never the full URL.
type NotAuthorizedError struct {
	ProviderID string
	Host       string
	Allowed    []string
}

func (e *NotAuthorizedError) Error() string {
	allowed := "none"
	if len(e.Allowed) > 0 {
		allowed = strings.Join(e.Allowed, ", ")
	}
	return fmt.Sprintf("URL not authorized for provider %s (host %s). Allowed: %s", e.ProviderID, e.Host, allowed)
}

// Is makes errors.Is(err, ErrNotAuthorized) true.
func (e *NotAuthorizedError) Is(target error) bool { return target == ErrNotAuthorized }

// PlaceholderError lists the `{{name}}` placeholders that have no value in the connection's credentials.
type PlaceholderError struct {
	Where string // "url", "header <Name>", "body", "query parameter <name>"
	Names []string
}

func (e *PlaceholderError) Error() string {
	return fmt.Sprintf("credentials: unresolved placeholder(s) in %s: %s", e.Where, strings.Join(e.Names, ", "))
}

// Is makes errors.Is(err, ErrUnresolvedPlaceholder) true.
func (e *PlaceholderError) Is(target error) bool { return target == ErrUnresolvedPlaceholder }
