package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/profile"
)

type connectionProfile struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	IsDefault       bool   `json:"isDefault"`
	ConnectionCount int    `json:"connectionCount"`
}

func newConnectionsCmd() *cobra.Command {
	var g globalFlags
	cmd := &cobra.Command{
		Use:   "connections",
		Short: "Your provider connections and connection profiles",
		Args:  cobra.NoArgs,
	}
	addGlobalFlags(cmd, &g)
	list := &cobra.Command{
		Use:   "list",
		Short: "List your provider connections (GET /api/app-profiles/connections)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loggedIn(cmd, &g)
			if err != nil {
				return err
			}
			var res struct {
				Data []struct {
					ProviderID string `json:"providerId"`
					Orgs       []struct {
						OrgID       string `json:"orgId"`
						Connections []struct {
							ID      string `json:"id"`
							Status  string `json:"status"`
							Profile *struct {
								ID   string `json:"id"`
								Name string `json:"name"`
							} `json:"profile"`
						} `json:"connections"`
					} `json:"orgs"`
				} `json:"data"`
			}
			if err := s.client.JSON(cmd.Context(), "GET", "/api/app-profiles/connections", nil, &res); err != nil {
				return failure(err)
			}
			var b strings.Builder
			for _, p := range res.Data {
				for _, o := range p.Orgs {
					for _, c := range o.Connections {
						status := c.Status
						if status == "connected" || status == "" {
							status = "✓"
						}
						name := ""
						if c.Profile != nil {
							name = c.Profile.Name
						}
						fmt.Fprintf(&b, "%-8s%-28s profile=%s\n", status, p.ProviderID, name)
					}
				}
			}
			if b.Len() == 0 {
				b.WriteString("(no connections)\n")
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), b.String())
			return err
		},
	}
	cmd.AddCommand(list, newConnectionProfileCmd(&g))
	return cmd
}

func newConnectionProfileCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "List, switch or create the connection profile pinned on the profile (used by local runs)",
		Args:  cobra.NoArgs,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List your connection profiles; the pinned one is marked *",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loggedIn(cmd, g)
			if err != nil {
				return err
			}
			var rows []connectionProfile
			if err := s.client.List(cmd.Context(), "/api/connection-profiles", &rows); err != nil {
				return failure(err)
			}
			out := cmd.OutOrStdout()
			if len(rows) == 0 {
				fmt.Fprintln(out, "(no connection profiles)")
				return nil
			}
			for _, r := range rows {
				def := ""
				if r.IsDefault {
					def = " [default]"
				}
				fmt.Fprintf(out, "%s%-24s  %s  (%d conn)%s\n", marker(r.ID == s.prof.ConnectionProfileID), r.Name, r.ID, r.ConnectionCount, def)
			}
			return nil
		},
	}
	current := &cobra.Command{
		Use:   "current",
		Short: "Print the pinned connection profile id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openSession(cmd, g)
			if err != nil {
				return failure(err)
			}
			if !s.configured {
				return failure(errNotLoggedInShort)
			}
			if s.prof.ConnectionProfileID == "" {
				return failure(errors.New("No connection profile pinned. Run: appstrate connections profile switch")) //lint:ignore ST1005 shown to users as is
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), s.prof.ConnectionProfileID)
			return err
		},
	}
	switchCmd := &cobra.Command{
		Use:   "switch [id-or-name]",
		Short: "Pin another connection profile",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loggedIn(cmd, g)
			if err != nil {
				return err
			}
			var rows []connectionProfile
			if err := s.client.List(cmd.Context(), "/api/connection-profiles", &rows); err != nil {
				return failure(err)
			}
			var chosen *connectionProfile
			if len(args) == 1 {
				_, perr := uuid.Parse(args[0])
				isUUID := perr == nil
				for i := range rows {
					if (isUUID && strings.EqualFold(rows[i].ID, args[0])) || (!isUUID && rows[i].Name == args[0]) {
						chosen = &rows[i]
						break
					}
				}
				if chosen == nil {
					return failure(fmt.Errorf("no connection profile matches %q", args[0]))
				}
			} else {
				if len(rows) == 0 || !stdinIsTTY(cmd.InOrStdin()) {
					return failure(errors.New("no connection profile given: run appstrate connections profile switch <id-or-name>"))
				}
				items, cur := make([]string, len(rows)), -1
				for i, r := range rows {
					items[i] = fmt.Sprintf("%s (%s)", r.Name, r.ID)
					if r.ID == s.prof.ConnectionProfileID {
						cur = i
					}
				}
				i, err := pick(cmd, "Pick a connection profile:", items, cur)
				if err != nil {
					return failure(err)
				}
				chosen = &rows[i]
			}
			if err := s.updateProfile(func(p *profile.Profile) { p.ConnectionProfileID = chosen.ID }); err != nil {
				return failure(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pinned connection profile %q (%s) on profile %q.\n", chosen.Name, chosen.ID, s.name)
			return nil
		},
	}
	create := &cobra.Command{
		Use:   "create [name]",
		Short: "Create a connection profile and pin it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loggedIn(cmd, g)
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			} else if name, err = prompt(cmd, "Connection profile name", ""); err != nil {
				return failure(err)
			}
			var res struct {
				Profile connectionProfile `json:"profile"`
			}
			if err := s.client.JSON(cmd.Context(), "POST", "/api/connection-profiles", map[string]string{"name": name}, &res); err != nil {
				return failure(err)
			}
			if res.Profile.ID == "" {
				return failure(errors.New("the server did not return the created profile"))
			}
			if err := s.updateProfile(func(p *profile.Profile) { p.ConnectionProfileID = res.Profile.ID }); err != nil {
				return failure(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Created connection profile %q (%s) and pinned it on profile %q.\n", res.Profile.Name, res.Profile.ID, s.name)
			return nil
		},
	}
	cmd.AddCommand(list, current, switchCmd, create)
	return cmd
}

// proxiedShapes are the model API shapes the LLM proxy serves.
var proxiedShapes = map[string]bool{"openai-completions": true, "anthropic-messages": true, "mistral-conversations": true}

func newModelsCmd() *cobra.Command {
	var g globalFlags
	cmd := &cobra.Command{
		Use:   "models",
		Short: "Models available to the pinned organization",
		Args:  cobra.NoArgs,
	}
	addGlobalFlags(cmd, &g)
	var asJSON, proxyOnly bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the organization's models (GET /api/models)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loggedIn(cmd, &g)
			if err != nil {
				return err
			}
			var raws []json.RawMessage
			if err := s.client.List(cmd.Context(), "/api/models", &raws); err != nil {
				return failure(err)
			}
			type model struct {
				ID        string `json:"id"`
				Label     string `json:"label"`
				APIShape  string `json:"apiShape"`
				Enabled   *bool  `json:"enabled"`
				IsDefault bool   `json:"isDefault"`
			}
			var kept []json.RawMessage
			var models []model
			for _, r := range raws {
				var m model
				if err := json.Unmarshal(r, &m); err != nil {
					return failure(fmt.Errorf("decode /api/models: %w", err))
				}
				if proxyOnly && !proxiedShapes[m.APIShape] {
					continue
				}
				kept, models = append(kept, r), append(models, m)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				arr, _ := json.Marshal(kept)
				if kept == nil {
					arr = []byte("[]")
				}
				var b bytes.Buffer
				if err := json.Indent(&b, arr, "", "  "); err != nil {
					return failure(err)
				}
				b.WriteByte('\n')
				_, err := out.Write(b.Bytes())
				return err
			}
			if len(models) == 0 {
				fmt.Fprintln(out, "(no models)")
				return nil
			}
			for _, m := range models {
				var tags []string
				if m.IsDefault {
					tags = append(tags, "default")
				}
				if m.Enabled != nil && !*m.Enabled {
					tags = append(tags, "disabled")
				}
				if !proxiedShapes[m.APIShape] {
					tags = append(tags, "proxy-unsupported")
				}
				suffix := ""
				if len(tags) > 0 {
					suffix = "  [" + strings.Join(tags, ", ") + "]"
				}
				fmt.Fprintf(out, "  %-36s%-24s%s%s\n", m.ID, m.APIShape, m.Label, suffix)
			}
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print the models as a JSON array")
	list.Flags().BoolVar(&proxyOnly, "proxy-only", false, "only models the LLM proxy serves (openai-completions, anthropic-messages, mistral-conversations)")
	cmd.AddCommand(list)
	return cmd
}
