package authroutes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// invite inserts an invitation of email into a fresh organization.
func invite(t *testing.T, e *apptest.Env, email, status string, expiresIn time.Duration) {
	t.Helper()
	owner := e.SeedUser("owner-" + strings.ReplaceAll(ids.UUID()[:8], "-", "") + "@corp.example")
	org, _ := e.SeedOrg(owner, "org-"+ids.UUID()[:8])
	now := isotime.Now()
	token := strings.ReplaceAll(ids.UUID()+ids.UUID(), "-", "")
	if _, err := e.DB.ExecContext(context.Background(), `INSERT INTO org_invitations (id, token, email, org_id, role, status, invited_by, expires_at, created_at)
		VALUES (?, ?, ?, ?, 'member', ?, ?, ?, ?)`, ids.UUID(), token, email, org, status, owner, isotime.From(now.Add(expiresIn)), now); err != nil {
		t.Fatal(err)
	}
}

func TestSignupPolicyRoutes(t *testing.T) {
	policies := []struct {
		name  string
		env   map[string]string
		cases []struct {
			email string
			code  string // "" = allowed
		}
	}{
		{"signup disabled", baseEnv("AUTH_DISABLE_SIGNUP", "true", "AUTH_BOOTSTRAP_OWNER_EMAIL", "boss@corp.example",
			"AUTH_PLATFORM_ADMIN_EMAILS", "root@ops.example"), []struct{ email, code string }{
			{"random@corp.example", "signup_disabled"},
			{"boss@corp.example", ""},
			{"root@ops.example", ""},
			{"invited@gmail.example", ""},
			{"expired-invite@gmail.example", "signup_disabled"},
			{"cancelled-invite@gmail.example", "signup_disabled"},
		}},
		{"allowed domains", baseEnv("AUTH_ALLOWED_SIGNUP_DOMAINS", "corp.example,partner.example",
			"AUTH_PLATFORM_ADMIN_EMAILS", "root@ops.example"), []struct{ email, code string }{
			{"dev@corp.example", ""},
			{"dev@partner.example", ""},
			{"dev@gmail.example", "signup_domain_not_allowed"},
			{"root@ops.example", ""},
			{"invited@gmail.example", ""},
		}},
	}
	for _, pol := range policies {
		t.Run(pol.name, func(t *testing.T) {
			apptest.Run(t, pol.env, func(t *testing.T, e *apptest.Env) {
				calls := withBootstrapOrg(e)
				invite(t, e, "invited@gmail.example", "pending", time.Hour)
				invite(t, e, "expired-invite@gmail.example", "pending", -time.Hour)
				invite(t, e, "cancelled-invite@gmail.example", "cancelled", time.Hour)
				for _, tc := range pol.cases {
					t.Run(tc.email, func(t *testing.T) {
						res := newClient(e).do("POST", "/api/auth/sign-up/email", map[string]any{"email": tc.email, "password": password, "name": ""})
						if tc.code != "" {
							expectError(t, res, 403, tc.code)
							return
						}
						expectStatus(t, res, 200)
						var display string
						if err := e.DB.QueryRowContext(context.Background(), `SELECT p.display_name FROM profiles p JOIN users u ON u.id = p.id WHERE u.email = ?`, tc.email).Scan(&display); err != nil || display != tc.email {
							t.Fatalf("profile display name %q (%v), want the email when the name is empty", display, err)
						}
					})
				}
				// Only the bootstrap owner's sign-up creates the bootstrap organization.
				if pol.name == "signup disabled" && (len(*calls) != 1 || !strings.HasSuffix((*calls)[0], "/Default")) {
					t.Fatalf("bootstrap org calls %v", *calls)
				}
			})
		})
	}
}
