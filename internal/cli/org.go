package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/profile"
)

// errNotLoggedInShort is what the `… current` commands print for a profile that is not configured.
var errNotLoggedInShort = errors.New("Not logged in. Run: appstrate login") //lint:ignore ST1005 shown to users as is

// loggedIn opens the session of a command that needs a configured profile.
func loggedIn(cmd *cobra.Command, g *globalFlags) (*session, error) {
	s, err := openSession(cmd, g)
	if err != nil {
		return nil, failure(err)
	}
	if err := s.requireProfile(); err != nil {
		return nil, failure(err)
	}
	return s, nil
}

func newOrgCmd() *cobra.Command {
	var g globalFlags
	cmd := &cobra.Command{
		Use:   "org",
		Short: "List, switch or create the organization pinned on the profile (sent as X-Org-Id)",
		Args:  cobra.NoArgs,
	}
	addGlobalFlags(cmd, &g)
	list := &cobra.Command{
		Use:   "list",
		Short: "List your organizations; the pinned one is marked *",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loggedIn(cmd, &g)
			if err != nil {
				return err
			}
			var orgs []orgInfo
			if err := s.client.List(cmd.Context(), "/api/orgs", &orgs); err != nil {
				return failure(err)
			}
			out := cmd.OutOrStdout()
			if len(orgs) == 0 {
				fmt.Fprintln(out, "(no organizations)")
				return nil
			}
			for _, o := range orgs {
				fmt.Fprintf(out, "%s%-24s  %s  %s\n", marker(o.ID == s.prof.OrgID), o.Slug, o.ID, o.Name)
			}
			return nil
		},
	}
	current := newCurrentCmd(&g, "Print the pinned organization id", func(s *session) string { return s.prof.OrgID },
		"No organization pinned. Run: appstrate org switch")
	switchCmd := &cobra.Command{
		Use:   "switch [id-or-slug]",
		Short: "Pin another organization (and its default application)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loggedIn(cmd, &g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var orgs []orgInfo
			if err := s.client.List(ctx, "/api/orgs", &orgs); err != nil {
				return failure(err)
			}
			var org *orgInfo
			if len(args) == 1 {
				if org = findOrg(orgs, args[0]); org == nil {
					return failure(fmt.Errorf("no organization matches %q. Available: %s", args[0], orgList(orgs)))
				}
			} else {
				if len(orgs) == 0 {
					return failure(errors.New("You have no organization. Create one with: appstrate org create <name>")) //lint:ignore ST1005 shown to users as is
				}
				if !stdinIsTTY(cmd.InOrStdin()) {
					return failure(fmt.Errorf("no organization given and stdin is not a TTY: run appstrate org switch <id-or-slug>. Available: %s", orgList(orgs)))
				}
				items, cur := make([]string, len(orgs)), -1
				for i, o := range orgs {
					items[i] = fmt.Sprintf("%s (%s)", o.Name, o.Slug)
					if o.ID == s.prof.OrgID {
						cur = i
					}
				}
				i, err := pick(cmd, "Pick an organization:", items, cur)
				if err != nil {
					return failure(err)
				}
				org = &orgs[i]
			}
			app, err := pinOrg(ctx, s, org)
			if err != nil {
				return failure(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pinned %q (%s)%s on profile %q.\n", org.Name, org.ID, appSuffix(app), s.name)
			return nil
		},
	}
	var slug string
	create := &cobra.Command{
		Use:   "create [name]",
		Short: "Create an organization (with its default application) and pin it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loggedIn(cmd, &g)
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			} else {
				if name, err = prompt(cmd, "Organization name", ""); err != nil {
					return failure(err)
				}
				if slug == "" {
					if slug, err = prompt(cmd, "Slug (optional)", ""); err != nil {
						return failure(err)
					}
				}
			}
			body := map[string]string{"name": name}
			if slug != "" {
				body["slug"] = slug
			}
			ctx := cmd.Context()
			var org orgInfo
			if err := s.client.JSON(ctx, "POST", "/api/orgs", body, &org); err != nil {
				return failure(err)
			}
			app, err := pinOrg(ctx, s, &org)
			if err != nil {
				return failure(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Created %q (%s)%s and pinned it on profile %q.\n", org.Name, org.ID, appSuffix(app), s.name)
			return nil
		},
	}
	create.Flags().StringVar(&slug, "slug", "", "URL slug (kebab-case; derived from the name when omitted)")
	cmd.AddCommand(list, current, switchCmd, create)
	return cmd
}

// newCurrentCmd builds `org current` / `app current`: print the pinned id of the profile, or say how to pin one.
func newCurrentCmd(g *globalFlags, short string, pinned func(*session) string, missing string) *cobra.Command {
	return &cobra.Command{
		Use:   "current",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openSession(cmd, g)
			if err != nil {
				return failure(err)
			}
			if !s.configured {
				return failure(errNotLoggedInShort)
			}
			id := pinned(s)
			if id == "" {
				return failure(errors.New(missing))
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), id)
			return err
		},
	}
}

func marker(pinned bool) string {
	if pinned {
		return "* "
	}
	return "  "
}

func appSuffix(app *appInfo) string {
	if app == nil {
		return ""
	}
	return fmt.Sprintf(" / app %q (%s)", app.Name, app.ID)
}

// pinOrg pins org, clears the app pin and re-pins the org's default (or only) application; errors listing
// the applications are swallowed.
func pinOrg(ctx context.Context, s *session, org *orgInfo) (*appInfo, error) {
	if err := s.updateProfile(func(p *profile.Profile) { p.OrgID, p.ApplicationID = org.ID, "" }); err != nil {
		return nil, err
	}
	var apps []appInfo
	if s.client.List(ctx, "/api/applications", &apps) != nil {
		return nil, nil
	}
	app := defaultApp(apps)
	if app == nil && len(apps) == 1 {
		app = &apps[0]
	}
	if app == nil {
		return nil, nil
	}
	return app, s.updateProfile(func(p *profile.Profile) { p.ApplicationID = app.ID })
}
