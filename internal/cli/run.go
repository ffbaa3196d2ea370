package cli

// `appstrate run` (CLI.md A10): flags, credentials and mode; the work is in runcmd.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
	"github.com/appstrate/appstrate-go/internal/cli/runcmd"
)

// runFlags are the flags of `run`.
type runFlags struct {
	local, remote                bool
	providers, credsFile, apiKey string
	input                        []string
	inputFile                    string
	config                       []string
	snapshot                     string
	modelSource, model, modelAPI string
	modelBaseURL, llmAPIKey      string
	runID, output                string
	json                         bool
	report, reportFallback       string
	sinkTTL                      string
	proxy                        string
	noInherit                    bool
	connectionProfile            string
	providerProfiles             []string
	noPreflight                  bool
	preflightTimeout             string
	verbose, quiet               bool
	version                      string
}

// runPollEvery is the remote follow loop's polling period (0: runcmd's default; a hook for tests).
var runPollEvery time.Duration

// runInterrupts delivers the interrupt signals of `run` (a hook for tests).
var runInterrupts = func() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

func newRunCmd() *cobra.Command {
	var g globalFlags
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [options] <agent>",
		Short: "Run an agent: on the platform (@scope/name) or on this machine (a .afps-bundle or .afps file, or --local)",
		Long: "Run an agent and print its events as they arrive, then its result.\n\n" +
			"@scope/name[@version] runs on the platform (remote mode): the CLI triggers the run and follows its logs.\n" +
			"A path (.afps-bundle or .afps) or --local runs the agent here, in a temporary workspace: the model through\n" +
			"the platform's LLM proxy (an organization preset; --model-source env uses your own key), providers through\n" +
			"the credential proxy, and the run is reported to the platform through its signed sink.\n\n" +
			"Input: --input '{\"k\":\"v\"}', --input k=v (a string) or --input k:=<json>, repeatable; --input-file <file|->;\n" +
			"or a JSON object on stdin when it is a pipe or a file. --config takes the same forms.\n\n" +
			"--json prints one JSON event per line (the last is {\"type\":\"appstrate.finalize\",\"result\":…}).\n" +
			"Exit codes: remote 0 when the run succeeded, else 1; local 0 whenever the agent ran (its result says how\n" +
			"it ended), 1 for setup errors; 130 after Ctrl-C (the first cancels the run, the second stops waiting).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd, &g, &f, args[0])
		},
	}
	addGlobalFlags(cmd, &g)
	fl := cmd.Flags()
	fl.BoolVar(&f.local, "local", false, "run on this machine (a registry agent's bundle is downloaded)")
	fl.BoolVar(&f.remote, "remote", false, "run on the platform (the default for @scope/name)")
	fl.StringVar(&f.providers, "providers", "remote", "local runs: remote (credential proxy) | none")
	fl.StringVar(&f.credsFile, "creds-file", "", "provider credentials file for --providers local (not supported by this CLI)")
	fl.StringVar(&f.apiKey, "api-key", "", "API key (ask_…) for headless use; or APPSTRATE_API_KEY with APPSTRATE_INSTANCE and APPSTRATE_APP_ID")
	fl.StringArrayVar(&f.input, "input", nil, "input: a JSON object, key=value or key:=<json> (repeatable)")
	fl.StringVar(&f.inputFile, "input-file", "", "input from a JSON file (- for stdin)")
	fl.StringArrayVar(&f.config, "config", nil, "configuration: a JSON object, key=value or key:=<json> (repeatable)")
	fl.StringVar(&f.snapshot, "snapshot", "", "local runs: {memories?, history?, checkpoint?} (not supported by this CLI)")
	fl.StringVar(&f.modelSource, "model-source", "", "local runs: preset (the platform's LLM proxy) | env (your own key); or APPSTRATE_MODEL_SOURCE")
	fl.StringVar(&f.model, "model", "", "model: a preset id (remote runs, --model-source preset) or the provider's model name (env)")
	fl.StringVar(&f.modelAPI, "model-api", "", "env model source: the model API (default anthropic-messages)")
	fl.StringVar(&f.modelBaseURL, "model-base-url", "", "env model source: the provider's base URL (default: the provider's)")
	fl.StringVar(&f.llmAPIKey, "llm-api-key", "", "env model source: the provider key (else <PROVIDER>_API_KEY, APPSTRATE_LLM_API_KEY, LLM_API_KEY)")
	fl.StringVar(&f.runID, "run-id", "", "run id (default cli_<ms>_<random>); remote mode sends it as the Idempotency-Key")
	fl.StringVar(&f.output, "output", "", "write the final RunResult JSON to this file")
	fl.BoolVar(&f.json, "json", false, "print the event stream as JSON lines on stdout")
	fl.StringVar(&f.report, "report", "auto", "local runs: report to the platform: auto | true | false")
	fl.StringVar(&f.reportFallback, "report-fallback", "abort", "local runs: when registering fails: abort | console")
	fl.StringVar(&f.sinkTTL, "sink-ttl", "", "local runs: sink lifetime in seconds")
	fl.StringVar(&f.proxy, "proxy", "", "outbound proxy id (or APPSTRATE_PROXY)")
	fl.BoolVar(&f.noInherit, "no-inherit", false, "local runs: do not inherit the application's run configuration")
	fl.StringVar(&f.connectionProfile, "connection-profile", "", "local runs: connection profile id for providers")
	fl.StringVar(&f.connectionProfile, "cp", "", "alias of --connection-profile")
	fl.StringArrayVar(&f.providerProfiles, "provider-profile", nil, "local runs: providerId=<profile id> (repeatable)")
	fl.BoolVar(&f.noPreflight, "no-preflight", false, "local runs: skip the connection readiness check")
	fl.StringVar(&f.preflightTimeout, "preflight-timeout", "300", "local runs: readiness wait in seconds")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "longer tool arguments and results")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "hide tool lines")
	fl.StringVar(&f.version, "version", "", "agent version, tag or range (same as @scope/name@<spec>)")
	_ = fl.MarkHidden("cp")
	return cmd
}

// usageErr is a flag problem (exit 1, as commander's).
func usageErr(format string, args ...any) error {
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf(format, args...)}
}

func runRun(cmd *cobra.Command, g *globalFlags, f *runFlags, arg string) error {
	target, err := runcmd.ParseTarget(arg)
	if err != nil {
		return usageErr("%v", err)
	}
	if f.version != "" {
		if target.IsPath() {
			return usageErr("--version applies to a registry agent, not to a file")
		}
		target.Spec = f.version
	}
	if err := checkRunFlags(cmd, f, target); err != nil {
		return err
	}
	local := target.IsPath() || f.local
	if !local {
		if err := refuseLocalFlags(cmd); err != nil {
			return err
		}
	}
	input, config, err := runValues(cmd, f)
	if err != nil {
		return usageErr("%v", err)
	}
	platform, err := runPlatform(cmd, g, f)
	if err != nil {
		return failure(err)
	}
	printer := &runcmd.Printer{Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr(), JSON: f.json, Verbose: f.verbose,
		Quiet: f.quiet, Color: colorEnabled(cmd.OutOrStdout())}
	if v := strings.ToLower(getenv("APPSTRATE_VERBOSE")); !cmd.Flags().Changed("verbose") && !cmd.Flags().Changed("quiet") {
		printer.Verbose, printer.Quiet = v == "1" || v == "true", v == "quiet"
	}
	runID := f.runID
	if runID == "" {
		runID = newCLIRunID()
	}

	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	interrupt := make(chan struct{})
	sigs, stop := runInterrupts()
	defer stop()
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		close(interrupt) // the first: cancel the run
		select {
		case <-sigs:
			cancel() // the second: stop waiting
		case <-ctx.Done():
		}
	}()

	var code int
	if local {
		code, err = runLocal(ctx, cmd, f, target, input, config, platform, printer, runID, interrupt)
	} else {
		if platform == nil {
			return failure(errors.New("remote runs need a logged-in profile (appstrate login) or an API key (--api-key, APPSTRATE_API_KEY)"))
		}
		proxy := f.proxy
		if proxy == "" {
			proxy = getenv("APPSTRATE_PROXY")
		}
		code, err = runcmd.RunRemote(ctx, platform, runcmd.RemoteOptions{Target: target, Input: input, Config: config,
			ModelID: f.model, ProxyID: proxy, RunID: runID, OutputPath: f.output, Printer: printer, Interrupt: interrupt,
			PollEvery: runPollEvery})
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return &ExitError{Code: runcmd.ExitInterrupt, Err: errors.New("interrupted"), Silent: true}
	case err != nil:
		return failure(err)
	case code != 0:
		return &ExitError{Code: code, Err: fmt.Errorf("run ended with exit code %d", code), Silent: true}
	}
	return nil
}

func runLocal(ctx context.Context, cmd *cobra.Command, f *runFlags, target runcmd.Target, input, config map[string]any,
	platform *runcmd.Platform, printer *runcmd.Printer, runID string, interrupt <-chan struct{}) (int, error) {
	switch f.providers {
	case runcmd.ProvidersRemote:
		if platform == nil {
			return runcmd.ExitFailed, errors.New("--providers=remote requires a logged-in profile or an API key — run appstrate login, pass --api-key, or use --providers none")
		}
	case runcmd.ProvidersNone:
	case "local":
		return runcmd.ExitFailed, errors.New("--providers local is not supported by this CLI: use --providers remote (the credential proxy) or none")
	}
	source := f.modelSource
	if source == "" {
		source = getenv("APPSTRATE_MODEL_SOURCE")
	}
	if source == "" {
		source = runcmd.ModelSourceEnv
		if platform != nil {
			source = runcmd.ModelSourcePreset
		}
	}
	if source != runcmd.ModelSourceEnv && source != runcmd.ModelSourcePreset {
		return runcmd.ExitFailed, fmt.Errorf("--model-source must be env or preset, not %q", source)
	}
	model := f.model
	if model == "" && source == runcmd.ModelSourceEnv {
		model = getenv("APPSTRATE_MODEL_ID")
	}
	ttl, _ := strconv.Atoi(f.sinkTTL)
	var logger *slog.Logger
	if printer.Verbose {
		logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return runcmd.RunLocal(ctx, runcmd.LocalOptions{Target: target, Input: input, Config: config, Platform: platform,
		Providers: f.providers, ModelSource: source, ModelID: model, ModelAPI: firstNonEmpty(f.modelAPI, getenv("APPSTRATE_MODEL_API")),
		ModelBaseURL: f.modelBaseURL, LLMAPIKey: f.llmAPIKey, Report: f.report, ReportFallback: f.reportFallback,
		SinkTTL: ttl, ConnectionProfileID: f.connectionProfile, RunID: runID, OutputPath: f.output,
		CLIVersion: firstNonEmpty(getenv("APPSTRATE_CLI_VERSION"), "dev"), Printer: printer, Interrupt: interrupt,
		Getenv: getenv, Logger: logger})
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// checkRunFlags validates the values that fail before anything runs.
func checkRunFlags(cmd *cobra.Command, f *runFlags, target runcmd.Target) error {
	switch {
	case f.local && f.remote:
		return usageErr("--local and --remote are mutually exclusive")
	case f.remote && target.IsPath():
		return usageErr("--remote does not support local bundle paths")
	case f.verbose && f.quiet:
		return usageErr("--verbose and --quiet are mutually exclusive")
	case f.report != "auto" && f.report != "true" && f.report != "false":
		return usageErr("--report must be auto, true or false, not %q", f.report)
	case f.reportFallback != "abort" && f.reportFallback != "console":
		return usageErr("--report-fallback must be abort or console, not %q", f.reportFallback)
	case f.providers != "remote" && f.providers != "local" && f.providers != "none":
		return usageErr("--providers must be remote, local or none, not %q", f.providers)
	case f.inputFile != "" && len(f.input) > 0:
		return usageErr("--input and --input-file are mutually exclusive")
	}
	if cmd.Flags().Changed("sink-ttl") {
		if n, err := strconv.Atoi(f.sinkTTL); err != nil || n <= 0 {
			return usageErr("--sink-ttl must be a positive integer (seconds), not %q", f.sinkTTL)
		}
	}
	if n, err := strconv.Atoi(f.preflightTimeout); err != nil || n <= 0 {
		return usageErr("--preflight-timeout must be a positive integer (seconds), not %q", f.preflightTimeout)
	}
	if cmd.Flags().Changed("snapshot") {
		return usageErr("--snapshot is not supported by this CLI")
	}
	return nil
}

// remoteRefused are the flags remote runs refuse, with the reason.
var remoteRefused = map[string]string{
	"snapshot":           "the platform loads the run's state itself",
	"creds-file":         "the platform injects the credentials",
	"llm-api-key":        "the platform calls the model",
	"model-api":          "the platform calls the model (use --model with a preset id)",
	"model-base-url":     "the platform calls the model (use --model with a preset id)",
	"model-source":       "the platform calls the model (use --model with a preset id)",
	"report":             "the platform records the run",
	"report-fallback":    "the platform records the run",
	"sink-ttl":           "the platform records the run",
	"no-preflight":       "the platform checks the connections",
	"preflight-timeout":  "the platform checks the connections",
	"connection-profile": "the platform resolves the connections",
	"cp":                 "the platform resolves the connections",
	"provider-profile":   "the platform resolves the connections",
}

// refuseLocalFlags lists the local-only flags given to a remote run.
func refuseLocalFlags(cmd *cobra.Command) error {
	var bad []string
	for name, why := range remoteRefused {
		if cmd.Flags().Changed(name) {
			bad = append(bad, fmt.Sprintf("  --%s: %s", name, why))
		}
	}
	if cmd.Flags().Changed("providers") && cmd.Flag("providers").Value.String() != "remote" {
		bad = append(bad, "  --providers: the platform injects the credentials")
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return usageErr("these flags apply to local runs only (add --local to run here):\n%s", strings.Join(bad, "\n"))
}

// runValues reads the input (flags, --input-file, or stdin when it is a pipe or a file) and the config.
func runValues(cmd *cobra.Command, f *runFlags) (input, config map[string]any, err error) {
	if input, err = runcmd.ParseValues("input", f.input); err != nil {
		return nil, nil, err
	}
	switch {
	case f.inputFile != "":
		if input, err = runcmd.ReadObjectFile(f.inputFile, cmd.InOrStdin()); err != nil {
			return nil, nil, fmt.Errorf("--input-file: %w", err)
		}
	case input == nil && stdinHasData(cmd.InOrStdin()):
		if input, err = runcmd.ReadObject("stdin", cmd.InOrStdin()); err != nil {
			return nil, nil, err
		}
	}
	if config, err = runcmd.ParseValues("config", f.config); err != nil {
		return nil, nil, err
	}
	return input, config, nil
}

// stdinHasData: stdin is a pipe or a regular file (never a terminal or /dev/null).
func stdinHasData(r io.Reader) bool {
	file, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	if err != nil {
		return false
	}
	mode := st.Mode()
	return mode&os.ModeNamedPipe != 0 || mode.IsRegular() && st.Size() > 0
}

// runPlatform resolves the credentials of run: an API key (flag or APPSTRATE_API_KEY, with APPSTRATE_INSTANCE,
// APPSTRATE_APP_ID and APPSTRATE_ORG_ID, falling back to the profile), else the profile's session. nil when
// neither is there.
func runPlatform(cmd *cobra.Command, g *globalFlags, f *runFlags) (*runcmd.Platform, error) {
	s, err := openSession(cmd, g)
	if err != nil {
		return nil, err
	}
	key := firstNonEmpty(f.apiKey, getenv("APPSTRATE_API_KEY"))
	if key != "" {
		instance := firstNonEmpty(getenv("APPSTRATE_INSTANCE"), s.prof.Instance)
		if instance == "" {
			return nil, errors.New("an API key needs an instance: set APPSTRATE_INSTANCE (or log in a profile)")
		}
		inst, err := apiclient.NormalizeInstance(instance, s.insecure)
		if err != nil {
			return nil, err
		}
		app := firstNonEmpty(getenv("APPSTRATE_APP_ID"), s.prof.ApplicationID)
		if app == "" {
			return nil, errors.New("an API key needs an application: set APPSTRATE_APP_ID")
		}
		return &runcmd.Platform{Instance: inst, AppID: app, OrgID: firstNonEmpty(getenv("APPSTRATE_ORG_ID"), s.prof.OrgID),
			Bearer: func(context.Context) (string, error) { return key, nil }, HTTP: httpClient(), UserAgent: userAgent()}, nil
	}
	if !s.configured {
		return nil, nil
	}
	tokens, err := s.client.Tokens()
	if err != nil {
		return nil, err
	}
	if tokens == nil {
		return nil, nil
	}
	inst, err := s.client.Instance()
	if err != nil {
		return nil, err
	}
	if s.prof.ApplicationID == "" {
		return nil, fmt.Errorf("Profile %q has no application pinned. Run: appstrate app switch", s.name) //lint:ignore ST1005 shown to users as is
	}
	return &runcmd.Platform{Instance: inst, OrgID: s.prof.OrgID, AppID: s.prof.ApplicationID, Bearer: s.client.Token,
		HTTP: httpClient(), UserAgent: userAgent()}, nil
}

// newCLIRunID is cli_<ms>_<8 random hex>.
func newCLIRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "cli_" + strconv.FormatInt(time.Now().UnixMilli(), 10) + "_" + hex.EncodeToString(b)
}
