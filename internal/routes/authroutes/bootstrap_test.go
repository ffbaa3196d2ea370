package authroutes_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

const bootstrapToken = "bootstrap-Token_0123456789abcdef"

// withBootstrapOrg makes user creation hooks create a real organization, as the tenancy area does.
func withBootstrapOrg(e *apptest.Env) *[]string {
	var mu sync.Mutex
	var calls []string
	e.App.Accounts.CreateBootstrapOrg = func(ctx context.Context, userID, orgName string) error {
		mu.Lock()
		calls = append(calls, userID+"/"+orgName)
		mu.Unlock()
		orgID, now := ids.UUID(), isotime.Now()
		if _, err := e.DB.ExecContext(ctx, `INSERT INTO organizations (id, name, slug, org_settings, created_by, created_at, updated_at) VALUES (?, ?, ?, '{}', ?, ?, ?)`,
			orgID, orgName, "org-"+orgID[:8], userID, now, now); err != nil {
			return err
		}
		_, err := e.DB.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, 'owner', ?)`, orgID, userID, now)
		return err
	}
	return &calls
}

func redeem(c *client, token, email string) *apptest.Response {
	return c.do("POST", "/api/auth/bootstrap/redeem", map[string]any{"token": token, "email": email, "password": password, "name": "Owner"})
}

func TestBootstrapRedeem(t *testing.T) {
	env := baseEnv("AUTH_BOOTSTRAP_TOKEN", bootstrapToken, "AUTH_DISABLE_SIGNUP", "true",
		"AUTH_ALLOWED_SIGNUP_DOMAINS", "corp.example", "AUTH_BOOTSTRAP_ORG_NAME", "Acme")
	apptest.Run(t, env, func(t *testing.T, e *apptest.Env) {
		calls := withBootstrapOrg(e)
		tests := []struct {
			name   string
			token  string
			email  string
			status int
			code   string
		}{
			{"wrong token", "bootstrap-Token_0123456789abcdeX", "owner@corp.example", 401, "bootstrap_token_invalid"},
			{"empty token", "", "owner@corp.example", 400, "validation_failed"},
			{"domain not allowed", bootstrapToken, "owner@gmail.example", 403, "signup_domain_not_allowed"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := redeem(newClient(e), tt.token, tt.email)
				if p := res.Problem(t); res.Status != tt.status || p.Code != tt.code {
					t.Fatalf("%d %+v", res.Status, p)
				}
			})
		}

		c := newClient(e)
		res := redeem(c, bootstrapToken, "Owner@Corp.example")
		expectStatus(t, res, 200)
		var out struct {
			OK     bool   `json:"ok"`
			UserID string `json:"userId"`
			OrgID  string `json:"orgId"`
		}
		res.JSON(t, &out)
		if !out.OK || out.UserID == "" || out.OrgID == "" || c.cookie == "" || len(*calls) != 1 || (*calls)[0] != out.UserID+"/Acme" {
			t.Fatalf("redeem %s cookie=%q calls=%v", res.Body, c.cookie, *calls)
		}
		s := c.getSession(t)
		if s == nil || s.User.ID != out.UserID || !s.User.EmailVerified || s.User.Email != "owner@corp.example" {
			t.Fatalf("owner session %+v", s)
		}
		expectStatus(t, c.do("GET", "/api/orgs", nil), 200)

		// Redeemable once.
		res = redeem(newClient(e), bootstrapToken, "second@corp.example")
		if p := res.Problem(t); res.Status != 410 || p.Code != "bootstrap_token_unavailable" {
			t.Fatalf("reuse: %d %+v", res.Status, p)
		}
		assertNoSecretsLogged(t, e, bootstrapToken, password, s.Session.Token)
	})
}

func TestBootstrapRedeemUnavailableAndConflicts(t *testing.T) {
	apptest.Run(t, baseEnv(), func(t *testing.T, e *apptest.Env) {
		res := redeem(newClient(e), bootstrapToken, "owner@example.com")
		if p := res.Problem(t); res.Status != 410 || p.Code != "bootstrap_token_unavailable" {
			t.Fatalf("no token configured: %d %+v", res.Status, p)
		}
	})
	apptest.Run(t, baseEnv("AUTH_BOOTSTRAP_TOKEN", bootstrapToken), func(t *testing.T, e *apptest.Env) {
		e.SeedUser("existing@example.com")
		res := redeem(newClient(e), bootstrapToken, "existing@example.com")
		if p := res.Problem(t); res.Status != 409 || p.Code != "bootstrap_user_exists" {
			t.Fatalf("existing user: %d %+v", res.Status, p)
		}
		// The failed attempt did not spend the token; the platform's own hook creates the organization.
		c := newClient(e)
		res = redeem(c, bootstrapToken, "fresh@example.com")
		expectStatus(t, res, 200)
		var out struct{ UserID, OrgID string }
		res.JSON(t, &out)
		var role string
		if err := e.DB.QueryRowContext(context.Background(), `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, out.OrgID, out.UserID).Scan(&role); err != nil || role != "owner" {
			t.Fatalf("bootstrap organization %s: role %q %v", res.Body, role, err)
		}
		expectStatus(t, c.do("GET", "/api/orgs/"+out.OrgID, nil), 200)
	})
}

func TestBootstrapRedeemConcurrent(t *testing.T) {
	apptest.Run(t, baseEnv("AUTH_BOOTSTRAP_TOKEN", bootstrapToken), func(t *testing.T, e *apptest.Env) {
		withBootstrapOrg(e)
		const n = 4
		statuses := make([]int, n)
		codes := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			c := newClient(e)
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := redeem(c, bootstrapToken, "racer"+string(rune('a'+i))+"@example.com")
				statuses[i] = res.Status
				var p struct{ Code string }
				_ = json.Unmarshal(res.Body, &p)
				codes[i] = p.Code
			}()
		}
		wg.Wait()
		wins := 0
		for i, st := range statuses {
			switch {
			case st == 200:
				wins++
			case st == 409 && codes[i] == "bootstrap_redeem_in_progress", st == 410 && codes[i] == "bootstrap_token_unavailable":
			default:
				t.Fatalf("racer %d: %d %s", i, st, codes[i])
			}
		}
		var users, orgs int
		_ = e.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM users`).Scan(&users)
		_ = e.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM organizations`).Scan(&orgs)
		if wins != 1 || users != 1 || orgs != 1 {
			t.Fatalf("wins=%d users=%d orgs=%d (%v %v)", wins, users, orgs, statuses, codes)
		}
	})
}

func TestBootstrapRedeemRateLimit(t *testing.T) {
	apptest.Run(t, baseEnv("AUTH_BOOTSTRAP_TOKEN", bootstrapToken), func(t *testing.T, e *apptest.Env) {
		c := newClient(e)
		for range 5 {
			if res := redeem(c, "wrong-token-0123456789abc", "x@example.com"); res.Status != 401 {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
		}
		res := redeem(c, bootstrapToken, "x@example.com")
		if p := res.Problem(t); res.Status != 429 || p.Code != "rate_limited" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("6th redeem: %d %+v", res.Status, p)
		}
	})
}
