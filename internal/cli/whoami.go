package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
)

func newWhoamiCmd() *cobra.Command {
	var g globalFlags
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Print the identity of the profile, checked with the server (GET /api/profile)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openSession(cmd, &g)
			if err != nil {
				return failure(err)
			}
			if err := s.requireProfile(); err != nil {
				return failure(err)
			}
			ctx := cmd.Context()
			var me struct {
				ID          string  `json:"id"`
				DisplayName *string `json:"displayName"`
				Email       string  `json:"email"`
				Name        string  `json:"name"`
			}
			if err := s.client.JSON(ctx, "GET", "/api/profile", nil, &me); err != nil {
				return failure(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Profile:  %s\n", s.name)
			fmt.Fprintf(out, "Instance: %s\n", s.prof.Instance)
			if me.Email != "" {
				fmt.Fprintf(out, "User:     %s\n", me.Email)
			}
			name := me.Name
			if me.DisplayName != nil && *me.DisplayName != "" {
				name = *me.DisplayName
			}
			if name != "" {
				fmt.Fprintf(out, "Name:     %s\n", name)
			}
			if id := s.prof.OrgID; id != "" {
				label := id
				var orgs []orgInfo
				if s.client.List(ctx, "/api/orgs", &orgs) == nil {
					if o := findOrg(orgs, id); o != nil {
						label = fmt.Sprintf("%s (%s)", o.Name, o.ID)
					}
				}
				fmt.Fprintf(out, "Org:      %s\n", label)
			}
			return nil
		},
	}
	addGlobalFlags(cmd, &g)
	return cmd
}

func newTokenCmd() *cobra.Command {
	var g globalFlags
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Show the lifetimes and claims of the stored tokens (local only; never prints a token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openSession(cmd, &g)
			if err != nil {
				return failure(err)
			}
			if err := s.requireProfile(); err != nil {
				return failure(err)
			}
			t, err := s.store.Load(s.name)
			if err != nil {
				return failure(err)
			}
			if t == nil {
				return failure(fmt.Errorf("No stored tokens for profile %q. Run: appstrate login --profile %s", s.name, s.name)) //lint:ignore ST1005 shown to users as is
			}
			now := cliNow()
			var b strings.Builder
			line := func(label, value string) { fmt.Fprintf(&b, "%-20s%s\n", label, value) }
			line("Profile:", s.name)
			line("Instance:", s.prof.Instance)
			b.WriteString("\nAccess token\n")
			access := time.UnixMilli(t.ExpiresAt)
			left := access.Sub(now)
			switch {
			case left > 30*time.Second:
				line("  Status:", "fresh")
			case left > 0:
				line("  Status:", "rotating-soon (< 30s remaining)")
			default:
				line("  Status:", "expired (next call will trigger rotation)")
			}
			line("  Expires:", relative(left))
			line("  Expires at:", iso(access))
			b.WriteString("\nRefresh token\n")
			refresh := time.UnixMilli(t.RefreshExpiresAt)
			rleft := refresh.Sub(now)
			switch {
			case rleft > 24*time.Hour:
				line("  Status:", "valid")
			case rleft > 0:
				line("  Status:", "expiring-soon (< 24h remaining)")
			default:
				line("  Status:", "expired (re-run `appstrate login`)")
			}
			line("  Expires:", relative(rleft))
			line("  Expires at:", iso(refresh))
			b.WriteString("\n")
			claims, err := apiclient.Claims(t.AccessToken)
			if err != nil {
				line("JWT claims:", "unavailable (token is not a JWT)")
			} else {
				b.WriteString("JWT claims\n")
				for _, k := range []string{"iss", "aud", "sub", "azp", "actor_type", "scope", "iat", "exp", "jti"} {
					line("  "+k+":", claimValue(claims, k))
				}
				if exp, ok := numberClaim(claims, "exp"); ok {
					if skew := math.Abs(float64(int64(exp*1000) - t.ExpiresAt)); skew > 2000 {
						fmt.Fprintf(&b, "  ⚠ JWT exp and the stored expiresAt differ by %.0fs (refresh timing uses the stored value)\n", skew/1000)
					}
				}
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), b.String())
			return err
		},
	}
	addGlobalFlags(cmd, &g)
	return cmd
}

func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// relative renders "in 14m 55s" or "3h 2m ago".
func relative(d time.Duration) string {
	if d < 0 {
		return duration(-d) + " ago"
	}
	return "in " + duration(d)
}

// duration renders Xd Yh, Xh Ym, Xm Ys or Xs.
func duration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd %dh", s/86400, s%86400/3600)
	case s >= 3600:
		return fmt.Sprintf("%dh %dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm %ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

func numberClaim(claims map[string]any, k string) (float64, bool) {
	switch v := claims[k].(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	}
	return 0, false
}

func claimValue(claims map[string]any, k string) string {
	v, ok := claims[k]
	if !ok || v == nil {
		if k == "scope" {
			return "(none)"
		}
		return "(missing)"
	}
	if k == "iat" || k == "exp" {
		if f, ok := numberClaim(claims, k); ok {
			return fmt.Sprintf("%d (%s)", int64(f), iso(time.Unix(int64(f), 0)))
		}
	}
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var parts []string
		for _, p := range x {
			parts = append(parts, fmt.Sprint(p))
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}
