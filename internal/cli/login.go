package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
	"github.com/appstrate/appstrate-go/internal/cli/profile"
)

// org and application as the CLI reads them (CLI.md A7).
type orgInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	Role      string `json:"role"`
	CreatedAt string `json:"createdAt"`
}

type appInfo struct {
	ID        string `json:"id"`
	OrgID     string `json:"orgId"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
	CreatedAt string `json:"createdAt"`
}

type loginFlags struct {
	instance, org, createOrg, app, createApp, deviceName string
	noOrg, noApp                                         bool
}

func newLoginCmd() *cobra.Command {
	var g globalFlags
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to an instance with the device flow (RFC 8628) and pin an organization and application",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLogin(cmd, &g, &f)
		},
	}
	addGlobalFlags(cmd, &g)
	fl := cmd.Flags()
	fl.StringVar(&f.instance, "instance", "", "instance base URL (prompted when omitted)")
	fl.StringVar(&f.org, "org", "", "pin this organization (id or slug)")
	fl.StringVar(&f.createOrg, "create-org", "", "create an organization with this name and pin it")
	fl.BoolVar(&f.noOrg, "no-org", false, "skip organization (and application) pinning")
	fl.StringVar(&f.app, "app", "", "pin this application (id)")
	fl.StringVar(&f.createApp, "create-app", "", "create an application with this name and pin it")
	fl.BoolVar(&f.noApp, "no-app", false, "skip application pinning")
	fl.StringVar(&f.deviceName, "device-name", "", "name of this device in the session list (default: the hostname)")
	cmd.MarkFlagsMutuallyExclusive("org", "create-org", "no-org")
	cmd.MarkFlagsMutuallyExclusive("app", "create-app", "no-app")
	return cmd
}

func runLogin(cmd *cobra.Command, g *globalFlags, f *loginFlags) error {
	s, err := openSession(cmd, g)
	if err != nil {
		return failure(err)
	}
	raw := f.instance
	if raw == "" {
		def := s.prof.Instance
		if def == "" {
			def = "http://localhost:3000"
		}
		if raw, err = prompt(cmd, "Instance URL", def); err != nil {
			return failure(err)
		}
	}
	instance, err := apiclient.NormalizeInstance(raw, s.insecure)
	if err != nil {
		return failure(err)
	}
	ctx, stop, sigCode := signalContext(cmd.Context())
	defer stop()
	tokens, claims, err := deviceFlow(ctx, cmd, s, instance, f.deviceName)
	if err != nil {
		if c := sigCode(); c != 0 {
			return &ExitError{Code: c, Err: errors.New("Cancelled.")} //lint:ignore ST1005 shown to users as is
		}
		return failure(err)
	}
	sub, _ := apiclient.StringClaim(claims, "sub")
	email, _ := apiclient.StringClaim(claims, "email")

	// Persist the tokens, then the profile; pins survive only for the same user.
	unlock, err := s.store.Lock()
	if err != nil {
		return failure(err)
	}
	err = s.store.Save(s.name, tokens)
	unlock()
	if err != nil {
		return failure(fmt.Errorf("save the session: %w", err))
	}
	sameUser := s.configured && s.prof.UserID == sub
	if err := s.updateProfile(func(p *profile.Profile) {
		if !sameUser {
			*p = profile.Profile{}
		}
		p.Instance, p.UserID, p.Email = instance, sub, email
	}); err != nil {
		return failure(err)
	}
	s.configured = true

	org, app, err := pinAfterLogin(ctx, cmd, s, f)
	if err != nil {
		return failure(err)
	}
	out := cmd.OutOrStdout()
	msg := "Logged in as " + email
	if org != nil {
		msg += fmt.Sprintf(" to %q (%s)", org.Name, org.ID)
	}
	if app != nil {
		msg += fmt.Sprintf(" / app %q (%s)", app.Name, app.ID)
	}
	fmt.Fprintln(out, msg)
	switch {
	case org == nil:
		fmt.Fprintf(out, "No organization pinned: pass -H 'X-Org-Id: …' on api calls, or run: appstrate org switch%s\n", profileFlag(s.name))
	case app == nil && !f.noApp:
		fmt.Fprintf(out, "No application pinned: app-scoped routes need -H 'X-Application-Id: …', or run: appstrate app switch%s\n", profileFlag(s.name))
	}
	return nil
}

func profileFlag(name string) string {
	if name == profile.DefaultName {
		return ""
	}
	return " --profile " + name
}

// deviceFlow runs steps 2–5 of CLI.md A4 and returns the tokens to store and the JWT claims.
func deviceFlow(ctx context.Context, cmd *cobra.Command, s *session, instance, deviceName string) (profile.Tokens, map[string]any, error) {
	auth := &apiclient.Auth{Instance: instance, Insecure: s.insecure, HTTP: httpClient(), UserAgent: userAgent()}
	dc, err := auth.RequestDeviceCode(ctx)
	if err != nil {
		return profile.Tokens{}, nil, err
	}
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	fmt.Fprintf(out, "  Visit: %s\n  Code:  %s\n", dc.VerificationURI, dc.DisplayCode())
	if dc.VerificationURIComplete != "" && canOpenBrowser(cmd) {
		_ = openBrowser(dc.VerificationURIComplete) // errors swallowed: the URL is on screen
	}
	fmt.Fprintf(errw, "Waiting for approval — the code expires in %dm…\n", int(math.Round(float64(dc.ExpiresIn)/60)))
	if deviceName == "" {
		deviceName, _ = os.Hostname()
	}
	tr, err := auth.PollToken(ctx, dc, apiclient.PollOptions{DeviceName: strings.TrimSpace(deviceName), Clock: deviceClock})
	if err != nil {
		return profile.Tokens{}, nil, err
	}
	claims, err := apiclient.Claims(tr.AccessToken)
	if err != nil {
		return profile.Tokens{}, nil, fmt.Errorf("the access token cannot be read: %w", err)
	}
	if _, ok := apiclient.StringClaim(claims, "sub"); !ok {
		return profile.Tokens{}, nil, errors.New("Access token is missing the `sub` claim.") //lint:ignore ST1005 shown to users as is
	}
	if _, ok := apiclient.StringClaim(claims, "email"); !ok {
		return profile.Tokens{}, nil, errors.New("Access token is missing the `email` claim.") //lint:ignore ST1005 shown to users as is
	}
	now := cliNow()
	t := profile.Tokens{AccessToken: tr.AccessToken, ExpiresAt: now.Add(time.Duration(tr.ExpiresIn) * time.Second).UnixMilli(),
		RefreshToken: tr.RefreshToken, RefreshExpiresAt: now.Add(time.Duration(*tr.RefreshExpiresIn) * time.Second).UnixMilli()}
	return t, claims, nil
}

// pinAfterLogin is the org then app cascade of CLI.md A4 steps 7–8.
func pinAfterLogin(ctx context.Context, cmd *cobra.Command, s *session, f *loginFlags) (*orgInfo, *appInfo, error) {
	if f.noOrg {
		return nil, nil, nil // pins kept from an earlier login of the same user stay as they are
	}
	errw := cmd.ErrOrStderr()
	var org *orgInfo
	switch {
	case f.createOrg != "":
		var created orgInfo
		if err := s.client.JSON(ctx, "POST", "/api/orgs", map[string]string{"name": f.createOrg}, &created); err != nil {
			return nil, nil, fmt.Errorf("create organization %q: %w", f.createOrg, err)
		}
		org = &created
	default:
		var orgs []orgInfo
		if err := s.client.List(ctx, "/api/orgs", &orgs); err != nil {
			var ae *apiclient.AuthError
			if errors.As(err, &ae) {
				return nil, nil, err
			}
			fmt.Fprintf(errw, "Failed to list organizations: %v\n", err)
			return nil, nil, nil
		}
		var err error
		if org, err = chooseOrg(ctx, cmd, s, orgs, f.org); err != nil {
			return nil, nil, err
		}
	}
	if org == nil {
		return nil, nil, nil
	}
	if err := s.updateProfile(func(p *profile.Profile) {
		if p.OrgID != org.ID {
			p.ApplicationID = ""
		}
		p.OrgID = org.ID
	}); err != nil {
		return nil, nil, err
	}
	if f.noApp {
		return org, nil, nil
	}
	var app *appInfo
	switch {
	case f.createApp != "":
		var created appInfo
		if err := s.client.JSON(ctx, "POST", "/api/applications", map[string]string{"name": f.createApp}, &created); err != nil {
			return org, nil, fmt.Errorf("create application %q: %w", f.createApp, err)
		}
		app = &created
	default:
		var apps []appInfo
		if err := s.client.List(ctx, "/api/applications", &apps); err != nil {
			fmt.Fprintf(errw, "Failed to list applications: %v\n", err)
			return org, nil, nil
		}
		switch {
		case f.app != "":
			for i := range apps {
				if apps[i].ID == f.app {
					app = &apps[i]
				}
			}
			if app == nil {
				return org, nil, fmt.Errorf("no application %q in %q. Available: %s", f.app, org.Name, appList(apps))
			}
		case len(apps) == 0:
			fmt.Fprintf(errw, "No application in %q: create one with: appstrate app create <name>%s\n", org.Name, profileFlag(s.name))
		case len(apps) == 1:
			app = &apps[0]
		default:
			app = defaultApp(apps)
			if app == nil {
				fmt.Fprintf(errw, "Several applications and none is the default: pick one with: appstrate app switch%s\n", profileFlag(s.name))
			}
		}
	}
	if app != nil {
		if err := s.updateProfile(func(p *profile.Profile) { p.ApplicationID = app.ID }); err != nil {
			return org, nil, err
		}
	}
	return org, app, nil
}

func defaultApp(apps []appInfo) *appInfo {
	for i := range apps {
		if apps[i].IsDefault {
			return &apps[i]
		}
	}
	return nil
}

func appList(apps []appInfo) string {
	if len(apps) == 0 {
		return "(none)"
	}
	var parts []string
	for _, a := range apps {
		parts = append(parts, fmt.Sprintf("%s (%s)", a.Name, a.ID))
	}
	return strings.Join(parts, ", ")
}

func orgList(orgs []orgInfo) string {
	if len(orgs) == 0 {
		return "(none)"
	}
	var parts []string
	for _, o := range orgs {
		parts = append(parts, fmt.Sprintf("%s (%s)", o.Slug, o.ID))
	}
	return strings.Join(parts, ", ")
}

// findOrg matches an exact id or slug.
func findOrg(orgs []orgInfo, ref string) *orgInfo {
	for i := range orgs {
		if orgs[i].ID == ref || orgs[i].Slug == ref {
			return &orgs[i]
		}
	}
	return nil
}

// chooseOrg picks the org at login: --org, the only one, a prompt to create one, or a picker.
func chooseOrg(ctx context.Context, cmd *cobra.Command, s *session, orgs []orgInfo, ref string) (*orgInfo, error) {
	errw := cmd.ErrOrStderr()
	tty := stdinIsTTY(cmd.InOrStdin())
	switch {
	case ref != "":
		if o := findOrg(orgs, ref); o != nil {
			return o, nil
		}
		return nil, fmt.Errorf("no organization matches %q. Available: %s", ref, orgList(orgs))
	case len(orgs) == 1:
		return &orgs[0], nil
	case len(orgs) == 0 && !tty:
		fmt.Fprintf(errw, "No organization yet: create one with: appstrate org create <name>%s\n", profileFlag(s.name))
		return nil, nil
	case len(orgs) == 0:
		name, err := prompt(cmd, "Organization name", "")
		if err != nil || name == "" {
			return nil, err
		}
		slug, err := prompt(cmd, "Slug (optional)", "")
		if err != nil {
			return nil, err
		}
		body := map[string]string{"name": name}
		if slug != "" {
			body["slug"] = slug
		}
		var created orgInfo
		if err := s.client.JSON(ctx, "POST", "/api/orgs", body, &created); err != nil {
			return nil, fmt.Errorf("create organization: %w", err)
		}
		return &created, nil
	case !tty:
		fmt.Fprintf(errw, "Multiple organizations — pass --org <id-or-slug>, or run: appstrate org switch%s\n", profileFlag(s.name))
		return nil, nil
	}
	items := make([]string, len(orgs))
	for i, o := range orgs {
		items[i] = fmt.Sprintf("%s (%s)", o.Name, o.Slug)
	}
	i, err := pick(cmd, "Pick an organization:", items, -1)
	if err != nil {
		return nil, err
	}
	return &orgs[i], nil
}
