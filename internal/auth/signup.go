package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Codes of the signup gate (sent as Better Auth 403 bodies).
const (
	CodeSignupDisabled         = "signup_disabled"
	CodeSignupDomainNotAllowed = "signup_domain_not_allowed"
)

// SignupPolicy is the gate run on every user creation (AUTH_DISABLE_SIGNUP, AUTH_ALLOWED_SIGNUP_DOMAINS).
// The bootstrap owner, platform admins and addresses with a pending invitation always pass.
type SignupPolicy struct {
	Disabled            bool
	AllowedDomains      []string // lower-case; empty = any domain
	PlatformAdminEmails []string // lower-case
	BootstrapOwnerEmail string   // lower-case
}

// SignupError is a refusal of the signup gate.
type SignupError struct {
	Code    string // CodeSignupDisabled or CodeSignupDomainNotAllowed
	Message string
}

func (e *SignupError) Error() string { return "auth: " + e.Message }

var (
	errSignupDisabled = &SignupError{Code: CodeSignupDisabled, Message: "Sign-up is disabled on this instance"}
	errSignupDomain   = &SignupError{Code: CodeSignupDomainNotAllowed, Message: "Sign-up is not allowed for this email domain"}
)

// refusal returns the rule email breaks, ignoring exemptions, or nil.
func (p SignupPolicy) refusal(email string) *SignupError {
	if p.Disabled {
		return errSignupDisabled
	}
	if !p.DomainAllowed(email) {
		return errSignupDomain
	}
	return nil
}

// DomainAllowed reports whether email's domain is in AllowedDomains (always true when the list is empty).
func (p SignupPolicy) DomainAllowed(email string) bool {
	if len(p.AllowedDomains) == 0 {
		return true
	}
	_, domain, ok := strings.Cut(NormalizeEmail(email), "@")
	return ok && slices.ContainsFunc(p.AllowedDomains, func(d string) bool { return strings.EqualFold(d, domain) })
}

// exempt reports whether email bypasses the gate by configuration alone.
func (p SignupPolicy) exempt(email string) bool {
	return (p.BootstrapOwnerEmail != "" && email == NormalizeEmail(p.BootstrapOwnerEmail)) ||
		slices.ContainsFunc(p.PlatformAdminEmails, func(e string) bool { return NormalizeEmail(e) == email })
}

// CheckSignup runs the signup gate for a new address: nil or a *SignupError.
func (a *Accounts) CheckSignup(ctx context.Context, email string) error {
	email = NormalizeEmail(email)
	refusal := a.opts.Signup.refusal(email)
	if refusal == nil || a.opts.Signup.exempt(email) {
		return nil
	}
	if a.HasPendingInvitation != nil {
		invited, err := a.HasPendingInvitation(ctx, email)
		if err != nil {
			return fmt.Errorf("auth: check pending invitations: %w", err)
		}
		if invited {
			return nil
		}
	}
	return refusal
}
