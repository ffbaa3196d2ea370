package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
	"github.com/appstrate/appstrate-go/internal/cli/profile"
)

func newLogoutCmd() *cobra.Command {
	var g globalFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Revoke the session server-side and forget the profile's credentials",
		Long: "Revokes the profile's refresh-token family (POST /api/auth/cli/revoke), then deletes the stored tokens\n" +
			"and the profile. The local cleanup happens even when the instance cannot be reached.\n" +
			"--all also revokes every CLI session of the user (POST /api/auth/cli/sessions/revoke-all).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLogout(cmd, &g, all)
		},
	}
	addGlobalFlags(cmd, &g)
	cmd.Flags().BoolVar(&all, "all", false, "revoke every CLI session of the user, on every device")
	return cmd
}

func runLogout(cmd *cobra.Command, g *globalFlags, all bool) error {
	s, err := openSession(cmd, g)
	if err != nil {
		return failure(err)
	}
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	tokens, err := s.store.Load(s.name)
	if err != nil {
		fmt.Fprintf(errw, "warning: cannot read the stored session (%v); continuing with local cleanup.\n", err)
	}
	if tokens == nil {
		if err := forget(s); err != nil {
			return failure(err)
		}
		fmt.Fprintln(out, "Already signed out.")
		return nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
	defer cancel()
	if all {
		if err := revokeAll(ctx, s); err != nil {
			fmt.Fprintf(errw, "warning: could not revoke every CLI session server-side (%v); revoke them from the dashboard's "+
				"device list. Revoking this session and continuing.\n", err)
		}
		if t, err := s.store.Load(s.name); err == nil && t != nil {
			tokens = t // the call may have rotated the pair
		}
	}
	instance, err := apiclient.NormalizeInstance(s.prof.Instance, s.insecure)
	if err == nil {
		auth := &apiclient.Auth{Instance: instance, Insecure: s.insecure, HTTP: httpClient(), UserAgent: userAgent()}
		err = auth.Revoke(ctx, tokens.RefreshToken)
	}
	if err != nil {
		fmt.Fprintf(errw, "warning: could not revoke refresh token server-side (%v); continuing with local cleanup.\n", err)
	}
	if err := forget(s); err != nil {
		return failure(err)
	}
	fmt.Fprintf(out, "Signed out of %q.\n", s.name)
	return nil
}

// forget deletes the tokens (under the token lock, so an in-flight refresh finishes first) and the profile.
func forget(s *session) error {
	unlock, err := s.store.Lock()
	if err != nil {
		return err
	}
	derr := s.store.Delete(s.name)
	unlock()
	cerr := profile.UpdateConfig(s.configDir, func(c *profile.Config) error {
		c.DeleteProfile(s.name)
		return nil
	})
	return errors.Join(derr, cerr)
}

// revokeAll calls POST /api/auth/cli/sessions/revoke-all with the bearer. Upstream serves that route to
// dashboard sessions only, so a 401 is expected there: it is not retried with a refreshed token, and the
// caller reports it as a warning.
func revokeAll(ctx context.Context, s *session) error {
	res, err := s.client.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: "/api/auth/cli/sessions/revoke-all",
		Body: []byte("{}"), Headers: map[string]string{"Accept": "application/json"}, NoRetry: true})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return apiclient.ErrorFromResponse(res, body)
	}
	return nil
}
