package auth

import (
	"context"
	"errors"
	"testing"
)

func TestSignupPolicy(t *testing.T) {
	base := SignupPolicy{BootstrapOwnerEmail: "owner@corp.example", PlatformAdminEmails: []string{"admin@elsewhere.example"}}
	disabled, domains := base, base
	disabled.Disabled = true
	domains.AllowedDomains = []string{"corp.example", "partner.example"}
	invited := map[string]bool{"guest@gmail.example": true}
	tests := []struct {
		name   string
		policy SignupPolicy
		email  string
		want   string // "" = allowed, else the refusal code
	}{
		{"open signup", base, "anyone@gmail.example", ""},
		{"disabled", disabled, "anyone@gmail.example", CodeSignupDisabled},
		{"disabled, bootstrap owner passes", disabled, "Owner@Corp.example", ""},
		{"disabled, platform admin passes", disabled, "admin@elsewhere.example", ""},
		{"disabled, pending invitation passes", disabled, "guest@gmail.example", ""},
		{"allowed domain", domains, "bob@corp.example", ""},
		{"allowed domain, any case", domains, "bob@PARTNER.example", ""},
		{"other domain", domains, "bob@gmail.example", CodeSignupDomainNotAllowed},
		{"subdomain is another domain", domains, "bob@eu.corp.example", CodeSignupDomainNotAllowed},
		{"other domain, invited", domains, "guest@gmail.example", ""},
		{"other domain, platform admin", domains, "admin@elsewhere.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAccounts(nil, Options{Signup: tt.policy})
			a.HasPendingInvitation = func(_ context.Context, email string) (bool, error) { return invited[email], nil }
			err := a.CheckSignup(context.Background(), tt.email)
			var se *SignupError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (!errors.As(err, &se) || se.Code != tt.want):
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestSignupPolicyInvitationLookupFails(t *testing.T) {
	a := NewAccounts(nil, Options{Signup: SignupPolicy{Disabled: true}})
	boom := errors.New("db down")
	a.HasPendingInvitation = func(context.Context, string) (bool, error) { return false, boom }
	if err := a.CheckSignup(context.Background(), "x@y.example"); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

func TestValidEmail(t *testing.T) {
	for email, want := range map[string]bool{
		"a@b.co": true, "first.last+tag@sub.example.com": true, "o'brien@example.ie": true,
		"": false, "a@b": false, "@b.co": false, "a@.co": false, ".a@b.co": false, "a..b@c.co": false,
		"a@b.c": false, "a b@c.co": false, "a.@b.co": false,
	} {
		if got := ValidEmail(email); got != want {
			t.Errorf("ValidEmail(%q) = %v, want %v", email, got, want)
		}
	}
}
