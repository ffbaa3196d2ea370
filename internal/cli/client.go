package cli

// Shared plumbing of the client commands (login, whoami, org, app, api, openapi...): global flags, the
// profile and token store of the environment, output rules (colours only on a TTY and never with NO_COLOR;
// errors through Main on stderr; machine output alone on stdout) and the hooks tests replace.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
	"github.com/appstrate/appstrate-go/internal/cli/profile"
	"github.com/appstrate/appstrate-go/internal/version"
)

// Test hooks.
var (
	// newKeyring returns the OS keyring (nil: none).
	newKeyring = func() profile.Keyring { return profile.SystemKeyring{Getenv: getenv} }
	// deviceClock paces the device-flow polls.
	deviceClock apiclient.Clock = apiclient.RealClock{}
	// cliHTTP is the HTTP client of the client commands (nil: a default one).
	cliHTTP *http.Client
	// cliNow is the clock of token lifetimes.
	cliNow = time.Now
	// openBrowser opens a URL in the user's browser.
	openBrowser = defaultOpenBrowser
	// stdinIsTTY reports whether prompts may read the command's stdin.
	stdinIsTTY = func(r io.Reader) bool { return isTerminal(r) }
)

// newClientCommands returns the client command tree and makes `-V, --version` print the bare version on root.
func newClientCommands(root *cobra.Command) []*cobra.Command {
	v, _ := version.Get()
	root.Version = v
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().BoolP("version", "V", false, "output the version number")
	return []*cobra.Command{
		newLoginCmd(), newLogoutCmd(), newWhoamiCmd(), newTokenCmd(), newOrgCmd(), newAppCmd(),
		newConnectionsCmd(), newModelsCmd(), newAPICmd(), newOpenAPICmd(), newInstallSourceCmd(), newRunCmd(),
	}
}

func getenv(name string) string {
	v, _ := lookupEnv(name)
	return v
}

func envTrue(name string) bool {
	v := strings.ToLower(strings.TrimSpace(getenv(name)))
	return v == "1" || v == "true"
}

func userAgent() string {
	v, _ := version.Get()
	return "appstrate-cli/" + v
}

// globalFlags are -p/--profile and --insecure, accepted on every client command (before or after the
// subcommand name).
type globalFlags struct {
	profile  string
	insecure bool
}

func addGlobalFlags(cmd *cobra.Command, g *globalFlags) {
	cmd.PersistentFlags().StringVarP(&g.profile, "profile", "p", "", "profile to use (default: $APPSTRATE_PROFILE, then defaultProfile, then \"default\")")
	cmd.PersistentFlags().BoolVar(&g.insecure, "insecure", false, "allow an http:// instance that is not loopback (APPSTRATE_INSECURE=1)")
}

// session is the resolved local state of one command.
type session struct {
	cmd        *cobra.Command
	configDir  string
	cfg        *profile.Config
	name       string          // the profile name
	prof       profile.Profile // its table (zero when not configured)
	configured bool
	insecure   bool
	store      *profile.Store
	client     *apiclient.Client
}

// openSession reads config.toml and prepares the token store and the client of the resolved profile.
func openSession(cmd *cobra.Command, g *globalFlags) (*session, error) {
	dir, err := profile.ConfigDir(getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := profile.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	s := &session{cmd: cmd, configDir: dir, cfg: cfg, insecure: g.insecure || envTrue("APPSTRATE_INSECURE")}
	s.name = cfg.Resolve(g.profile, getenv("APPSTRATE_PROFILE"))
	s.prof, s.configured = cfg.Profile(s.name)
	s.store = &profile.Store{Dir: dir, Keyring: newKeyring(), AllowPlaintext: envTrue("APPSTRATE_ALLOW_PLAINTEXT_TOKENS"),
		Warn: cmd.ErrOrStderr(), Now: cliNow}
	s.client = &apiclient.Client{ProfileName: s.name, Profile: s.prof, Insecure: s.insecure, Store: s.store,
		HTTP: httpClient(), UserAgent: userAgent(), Now: cliNow}
	return s, nil
}

func httpClient() *http.Client {
	if cliHTTP != nil {
		return cliHTTP
	}
	return &http.Client{Timeout: 5 * time.Minute}
}

// requireProfile fails when the profile is not configured.
func (s *session) requireProfile() error {
	if !s.configured {
		return &apiclient.NotLoggedInError{Profile: s.name}
	}
	return nil
}

// updateProfile saves changes to the profile under the config lock and keeps the session in sync.
func (s *session) updateProfile(fn func(p *profile.Profile)) error {
	err := profile.UpdateConfig(s.configDir, func(c *profile.Config) error {
		p, _ := c.Profile(s.name)
		if p.Instance == "" {
			p = s.prof
		}
		fn(&p)
		c.SetProfile(s.name, p)
		s.prof = p
		return nil
	})
	if err != nil {
		return err
	}
	s.client.Profile = s.prof
	return nil
}

// isTerminal reports whether v is a terminal file.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// colorEnabled: FORCE_COLOR forces colours, NO_COLOR (any non-empty value) disables them, else only on a TTY.
func colorEnabled(w io.Writer) bool {
	if getenv("NO_COLOR") != "" {
		return false
	}
	if fc := getenv("FORCE_COLOR"); fc != "" && fc != "0" && fc != "false" {
		return true
	}
	return isTerminal(w)
}

// paint wraps s in an ANSI colour when enabled.
func paint(on bool, code, s string) string {
	if !on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// prompt reads one line from the command's stdin (TTY only); def is used for an empty answer.
func prompt(cmd *cobra.Command, label, def string) (string, error) {
	if !stdinIsTTY(cmd.InOrStdin()) {
		return "", fmt.Errorf("Cannot prompt %q: stdin is not a TTY. Pass the value as a flag instead.", label) //lint:ignore ST1005 shown to users as is
	}
	if def != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s (%s): ", label, def)
	} else {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: ", label)
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", &ExitError{Code: 130, Err: errors.New("Cancelled.")} //lint:ignore ST1005 shown to users as is
	}
	line = strings.TrimSpace(line)
	if line == "" {
		line = def
	}
	return line, nil
}

// pick shows a numbered list and reads a choice (TTY only); it returns the index.
func pick(cmd *cobra.Command, label string, items []string, current int) (int, error) {
	w := cmd.ErrOrStderr()
	fmt.Fprintln(w, label)
	for i, it := range items {
		marker := "  "
		if i == current {
			marker = "* "
		}
		fmt.Fprintf(w, "%s%d) %s\n", marker, i+1, it)
	}
	def := ""
	if current >= 0 {
		def = fmt.Sprint(current + 1)
	}
	for {
		ans, err := prompt(cmd, "Number", def)
		if err != nil {
			return -1, err
		}
		var n int
		if _, err := fmt.Sscan(ans, &n); err == nil && n >= 1 && n <= len(items) {
			return n - 1, nil
		}
		fmt.Fprintf(w, "Pick a number between 1 and %d.\n", len(items))
	}
}

// signalContext cancels on SIGINT/SIGTERM/SIGHUP; code() tells the exit code of the signal received (0 if none).
func signalContext(parent context.Context) (ctx context.Context, stop func(), code func() int) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	got := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			c := 130
			switch sig {
			case syscall.SIGTERM:
				c = 143
			case syscall.SIGHUP:
				c = 129
			}
			got <- c
			cancel()
		case <-done:
		}
	}()
	stop = func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
	code = func() int {
		select {
		case c := <-got:
			got <- c
			return c
		default:
			return 0
		}
	}
	return ctx, stop, code
}

// canOpenBrowser: only with a TTY on stdout and a display, and not with APPSTRATE_CLI_NO_OPEN=1.
func canOpenBrowser(cmd *cobra.Command) bool {
	if envTrue("APPSTRATE_CLI_NO_OPEN") || !isTerminal(cmd.OutOrStdout()) {
		return false
	}
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
}

// failure wraps an error as exit 1.
func failure(err error) error {
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: ExitFailure, Err: err}
}
