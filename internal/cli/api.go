package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
	"github.com/appstrate/appstrate-go/internal/cli/curl"
)

const apiHelp = `Usage: appstrate api [options] [method] <path-or-url>

Authenticated, curl-compatible passthrough to the profile's instance: the bearer, X-Org-Id and
X-Application-Id are added for you (the token never reaches your shell). Absolute URLs must be on the
instance's origin.

Options (as curl):
  -X, --request <method>      HTTP method
  -H, --header 'Name: value'  add or replace a header ('Name:' removes it)
  -d, --data <data|@file|@->  body (one trailing newline stripped from literals)
      --data-raw <data>       body, '@' not interpreted
      --data-binary <data|@file|@->
      --data-urlencode <[name]=content|[name]@file>
  -F, --form <name=value|name=@file[;type=mime]>   multipart/form-data
  -T, --upload-file <file|->  PUT the file or stdin
  -G, --get                   put the data in the query string
  -q, --query <k=v>           add a query parameter
  -i, --include               print the status line and headers
  -I, --head                  HEAD request, print the headers only
  -o, --output <file>         write the body to a file
  -f, --fail                  exit 22 (25 for 5xx) on HTTP errors, body discarded
      --fail-with-body        same exit codes, body kept
  -L, --location              follow redirects (Authorization dropped on other origins)
  -v, --verbose               request and response lines on stderr (Authorization redacted)
  -s, --silent / -S, --show-error
  -m, --max-time <s>, --connect-timeout <s>
      --retry <n>, --retry-delay <s>, --retry-max-time <s>, --retry-connrefused
      --compressed, -r/--range <range>, -e/--referer <url>, -b/--cookie <k=v>, -A/--user-agent <ua>
  -w, --write-out <format>    %{http_code} %{http_version} %{size_download} %{size_upload} %{time_total}
                              %{time_starttransfer} %{url_effective} %{num_redirects} %{header_json} %{exitcode}
  -k                          skip TLS verification
  -p, --profile <name>        profile to use
      --insecure              allow an http:// instance that is not loopback (global flag; -k is TLS)

Exit codes: 0 any HTTP status (without -f), 1 not logged in, 2 refused usage, 6 DNS, 7 connect,
22/25 HTTP error under -f, 28 timeout, 35 TLS, 130 interrupted.
`

func newAPICmd() *cobra.Command {
	return &cobra.Command{
		Use:                "api [options] [method] <path-or-url>",
		Short:              "Authenticated curl-compatible HTTP passthrough to the API",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := curl.Parse(args)
			if err != nil {
				var ue *curl.UsageError
				if errors.As(err, &ue) {
					return &ExitError{Code: ue.Code, Err: err}
				}
				return failure(err)
			}
			if o.Help {
				_, err := fmt.Fprint(cmd.OutOrStdout(), apiHelp)
				return err
			}
			s, err := openSession(cmd, &globalFlags{profile: o.Profile, insecure: o.InstanceUnsafe})
			if err != nil {
				return failure(err)
			}
			env := curl.Env{Profile: s.name, Files: curl.Files{Stdin: cmd.InOrStdin()}, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
			var setupErr error
			if !s.configured {
				setupErr = &apiclient.NotLoggedInError{Profile: s.name}
			} else if env.Instance, err = s.client.Instance(); err != nil {
				setupErr = err
			}
			if setupErr != nil {
				// -w is still written (http_code 0), as upstream.
				if o.WriteOut != "" {
					fmt.Fprint(cmd.OutOrStdout(), curl.WriteOut(o.WriteOut, curl.WriteOutVars{ExitCode: curl.ExitFailure}))
				}
				return failure(setupErr)
			}
			env.Defaults = func(ctx context.Context) ([]curl.Header, error) {
				token, err := s.client.Token(ctx) // proactive refresh only: a stdin body cannot be replayed
				if err != nil {
					return nil, err
				}
				var hs []curl.Header
				for _, h := range s.client.DefaultHeaders(token) {
					hs = append(hs, curl.Header{Name: h.Name, Value: h.Value})
				}
				return hs, nil
			}
			if t, ok := s.client.HTTP.Transport.(*http.Transport); ok {
				env.Transport = t
			}
			ctx, stop, sigCode := signalContext(cmd.Context())
			defer stop()
			code, msg := curl.Run(ctx, o, env)
			if c := sigCode(); c != 0 {
				code = c
			}
			if code == 0 {
				return nil
			}
			if msg == "" { // curl semantics: the reason was printed already, or -s asked for silence
				return &ExitError{Code: code, Err: fmt.Errorf("exit status %d", code), Silent: true}
			}
			return &ExitError{Code: code, Err: errors.New(msg)}
		},
	}
}
