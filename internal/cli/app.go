package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/profile"
)

func newAppCmd() *cobra.Command {
	var g globalFlags
	cmd := &cobra.Command{
		Use:   "app",
		Short: "List, switch or create the application pinned on the profile (sent as X-Application-Id)",
		Args:  cobra.NoArgs,
	}
	addGlobalFlags(cmd, &g)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the applications of the pinned organization; the pinned one is marked *",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loggedIn(cmd, &g)
			if err != nil {
				return err
			}
			var apps []appInfo
			if err := s.client.List(cmd.Context(), "/api/applications", &apps); err != nil {
				return failure(err)
			}
			out := cmd.OutOrStdout()
			if len(apps) == 0 {
				fmt.Fprintln(out, "(no applications)")
				return nil
			}
			for _, a := range apps {
				def := ""
				if a.IsDefault {
					def = " [default]"
				}
				fmt.Fprintf(out, "%s%-24s  %s%s\n", marker(a.ID == s.prof.ApplicationID), a.Name, a.ID, def)
			}
			return nil
		},
	}
	current := newCurrentCmd(&g, "Print the pinned application id", func(s *session) string { return s.prof.ApplicationID },
		"No application pinned. Run: appstrate app switch")
	switchCmd := &cobra.Command{
		Use:   "switch [id]",
		Short: "Pin another application of the pinned organization",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loggedIn(cmd, &g)
			if err != nil {
				return err
			}
			var apps []appInfo
			if err := s.client.List(cmd.Context(), "/api/applications", &apps); err != nil {
				return failure(err)
			}
			var app *appInfo
			if len(args) == 1 {
				for i := range apps {
					if apps[i].ID == args[0] {
						app = &apps[i]
					}
				}
				if app == nil {
					return failure(fmt.Errorf("no application %q in the pinned organization. Available: %s", args[0], appList(apps)))
				}
			} else {
				if len(apps) == 0 {
					return failure(errors.New("The pinned organization has no application. Create one with: appstrate app create <name>")) //lint:ignore ST1005 shown to users as is
				}
				if !stdinIsTTY(cmd.InOrStdin()) {
					return failure(fmt.Errorf("no application given and stdin is not a TTY: run appstrate app switch <id>. Available: %s", appList(apps)))
				}
				items, cur := make([]string, len(apps)), -1
				for i, a := range apps {
					items[i] = fmt.Sprintf("%s (%s)", a.Name, a.ID)
					if a.ID == s.prof.ApplicationID {
						cur = i
					}
				}
				i, err := pick(cmd, "Pick an application:", items, cur)
				if err != nil {
					return failure(err)
				}
				app = &apps[i]
			}
			if err := s.updateProfile(func(p *profile.Profile) { p.ApplicationID = app.ID }); err != nil {
				return failure(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pinned %q (%s) on profile %q.\n", app.Name, app.ID, s.name)
			return nil
		},
	}
	create := &cobra.Command{
		Use:   "create [name]",
		Short: "Create an application in the pinned organization and pin it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loggedIn(cmd, &g)
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			} else if name, err = prompt(cmd, "Application name", ""); err != nil {
				return failure(err)
			}
			var app appInfo
			if err := s.client.JSON(cmd.Context(), "POST", "/api/applications", map[string]string{"name": name}, &app); err != nil {
				return failure(err)
			}
			if err := s.updateProfile(func(p *profile.Profile) { p.ApplicationID = app.ID }); err != nil {
				return failure(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Created %q (%s) and pinned it on profile %q.\n", app.Name, app.ID, s.name)
			return nil
		},
	}
	cmd.AddCommand(list, current, switchCmd, create)
	return cmd
}
