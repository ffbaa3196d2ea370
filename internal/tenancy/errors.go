package tenancy

import "errors"

// Errors callers branch on. Service methods return them wrapped in a *RuleError carrying a human-readable
// detail; errors.Is matches the sentinel and RuleDetail extracts the detail.
var (
	ErrForbidden             = errors.New("forbidden")
	ErrNotFound              = errors.New("not found")
	ErrInvalid               = errors.New("invalid request")
	ErrSlugTaken             = errors.New("slug taken")
	ErrAlreadyMember         = errors.New("already a member")
	ErrOrgCreationDisabled   = errors.New("organization creation is disabled")
	ErrDefaultApplication    = errors.New("the default application cannot be deleted")
	ErrInvitationNotFound    = errors.New("invitation not found")
	ErrInvitationAccepted    = errors.New("invitation already accepted")
	ErrInvitationCancelled   = errors.New("invitation cancelled")
	ErrInvitationExpired     = errors.New("invitation expired")
	ErrEmailMismatch         = errors.New("email mismatch")
	ErrUnsupportedAPIVersion = errors.New("unsupported API version")
)

// RuleError is a rule violation: Err is one of the sentinels above, Detail says what happened.
type RuleError struct {
	Err    error
	Detail string
}

func (e *RuleError) Error() string { return e.Err.Error() + ": " + e.Detail }

// Unwrap returns the sentinel.
func (e *RuleError) Unwrap() error { return e.Err }

// RuleDetail returns the detail of a *RuleError in err's chain, else err's text.
func RuleDetail(err error) string {
	var re *RuleError
	if errors.As(err, &re) {
		return re.Detail
	}
	return err.Error()
}

func rule(sentinel error, detail string) error { return &RuleError{Err: sentinel, Detail: detail} }
