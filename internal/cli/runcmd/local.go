package runcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/runner"
	"github.com/appstrate/appstrate-go/internal/runplan"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// Model sources and provider modes of local runs.
const (
	ModelSourceEnv    = "env"
	ModelSourcePreset = "preset"
	ProvidersRemote   = "remote"
	ProvidersNone     = "none"
)

// LocalOptions is a local run.
type LocalOptions struct {
	Target        Target
	Input, Config map[string]any
	// Platform is the instance to report to and to reach the proxies through (nil: not logged in).
	Platform *Platform
	// Providers is remote (the credential proxy) or none.
	Providers string
	// ModelSource is env (ModelAPI, ModelID, ModelBaseURL, LLMAPIKey) or preset (ModelID = a preset id or "").
	ModelSource  string
	ModelID      string
	ModelAPI     string
	ModelBaseURL string
	LLMAPIKey    string
	// Report: "auto" (when Platform is set), "true" or "false"; ReportFallback: "abort" or "console".
	Report, ReportFallback string
	SinkTTL                int // seconds (0: the platform's default)
	ConnectionProfileID    string
	RunID                  string // used when the run is not reported
	OutputPath             string
	CLIVersion             string
	Printer                *Printer
	Interrupt              <-chan struct{}
	// Getenv reads the environment (model keys).
	Getenv func(string) string
	// Logger receives the runner's diagnostics (nil: discarded).
	Logger *slog.Logger
}

// SetupError is a local run that could not start (exit 1).
type SetupError struct{ Msg string }

func (e *SetupError) Error() string { return e.Msg }

func setupErr(format string, args ...any) error {
	return &SetupError{Msg: fmt.Sprintf(format, args...)}
}

// RunLocal executes the agent on this machine. The exit code is 0 whenever the runner returns (a failed run
// included: its result says so), 130 when interrupted; errors are setup failures.
func RunLocal(ctx context.Context, o LocalOptions) (int, error) {
	pr := o.Printer
	agent, lookup, err := loadAgent(ctx, o)
	if err != nil {
		return ExitFailed, err
	}
	if o.Input, err = checkValues("input", agent.Manifest.Input, o.Input, false); err != nil {
		return ExitFailed, err
	}
	if o.Config, err = checkValues("config", agent.Manifest.Config, o.Config, true); err != nil {
		return ExitFailed, err
	}
	model, err := resolveModel(ctx, o)
	if err != nil {
		return ExitFailed, err
	}
	reporting, err := reportMode(o)
	if err != nil {
		return ExitFailed, err
	}
	runID := o.RunID
	var remote *remoteRun
	if reporting {
		remote, err = registerRun(ctx, o, agent)
		if err != nil {
			if o.ReportFallback != "console" {
				return ExitFailed, err
			}
			pr.Warn("the run is not reported (%v); going on with the console only", err)
		} else {
			runID = remote.RunID
		}
	}
	plan, err := runplan.PlanLocal(runplan.LocalInput{RunID: runID, Agent: *agent, Lookup: lookup,
		Input: mustJSON(o.Input), Config: mustJSON(o.Config), Connected: func(string) bool { return o.Providers == ProvidersRemote }})
	if err != nil {
		return ExitFailed, abandon(ctx, remote, err)
	}
	if len(plan.UnsupportedTools) > 0 {
		pr.Warn("tool packages left out (they cannot run here): %s", strings.Join(plan.UnsupportedTools, ", "))
	}
	dir, err := writeWorkspace(plan.Files)
	if err != nil {
		return ExitFailed, abandon(ctx, remote, err)
	}
	defer os.RemoveAll(dir)

	label := agent.Manifest.Identity()
	if remote != nil {
		pr.Status("→ running %s (reporting to %s as %s)", label, o.Platform.Instance, runID)
	} else {
		pr.Status("→ running %s locally as %s (not reported)", label, runID)
	}
	var tools []runner.Tool
	if o.Providers == ProvidersRemote && o.Platform != nil && len(plan.ConnectedProviders) > 0 {
		tools = append(tools, providerCallTool(o.Platform, runID, o.ConnectionProfileID, plan.ConnectedProviders))
		pr.Status("→ wired %d provider tool(s)", len(plan.ConnectedProviders))
	}
	client, err := model.client(o.Platform, runID)
	if err != nil {
		return ExitFailed, abandon(ctx, remote, err)
	}
	events := &teeSink{printer: pr, runID: runID}
	stopHeartbeat := func() {}
	if remote != nil {
		sc, err := sink.NewClient(sink.ClientConfig{RunID: runID, URL: remote.URL, FinalizeURL: remote.FinalizeURL,
			Secret: remote.Secret, HTTPClient: &http.Client{}, Logger: o.Logger})
		if err != nil {
			return ExitFailed, abandon(ctx, remote, err)
		}
		defer sc.Close()
		events.remote = sc
		stopHeartbeat = heartbeat(ctx, sc, o.Logger)
	}

	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), plan.Timeout)
	defer cancel()
	interrupted := make(chan struct{})
	go func() {
		select {
		case <-o.Interrupt:
			close(interrupted)
			cancel()
		case <-ctx.Done():
			cancel()
		case <-runCtx.Done():
		}
	}()
	cfg := runner.Config{RunID: runID, Prompt: plan.Prompt, Model: model.runnerModel(), OutputSchema: plan.OutputSchema,
		ConnectedProviders: plan.ConnectedProviders, WorkspaceDir: dir, AgentTools: plan.AgentTools}
	result, runErr := runner.Run(runCtx, cfg, runner.Deps{LLM: client, Sink: events, Tools: tools, Logger: o.Logger})
	stopHeartbeat()
	if runErr != nil {
		pr.Warn("%v", runErr)
	}
	failure := ""
	if runner.Failed(result) {
		failure = "Run " + orDefault(result.Status, "failed")
		if result.Error != nil && result.Error.Message != "" {
			failure = result.Error.Message
		}
	}
	pr.Finish(result, failure)
	if o.OutputPath != "" {
		if err := writeResult(o.OutputPath, result); err != nil {
			return ExitFailed, err
		}
	}
	select {
	case <-interrupted:
		return ExitInterrupt, nil
	default:
	}
	return ExitOK, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func mustJSON(m map[string]any) []byte {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	return b
}

// checkValues validates the input or the config against the manifest's schema (with its defaults applied
// when defaults is set) and returns the values to use.
func checkValues(name string, w *afps.SchemaWrapper, values map[string]any, defaults bool) (map[string]any, error) {
	if w == nil || len(w.Schema) == 0 {
		return values, nil
	}
	schema, err := jsonschema.Compile(w.Schema)
	if err != nil {
		return nil, setupErr("the agent's %s schema is invalid: %v", name, err)
	}
	raw, _ := json.Marshal(orEmpty(values))
	v, err := jsonschema.Decode(raw)
	if err != nil {
		return nil, setupErr("--%s: %v", name, err)
	}
	if defaults {
		v = jsonschema.ApplyDefaults(schema, v)
	}
	if errs := schema.Validate(v); len(errs) > 0 {
		msgs := make([]string, 0, len(errs))
		for _, e := range errs {
			msgs = append(msgs, jsonschema.JoinPath(name, e.Path)+": "+e.Message)
		}
		return nil, setupErr("--%s does not match the agent's schema: %s", name, strings.Join(msgs, "; "))
	}
	out, _ := json.Marshal(v)
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		return values, nil
	}
	return m, nil
}

// reportMode decides whether the run reports to the platform.
func reportMode(o LocalOptions) (bool, error) {
	switch o.Report {
	case "", "auto":
		return o.Platform != nil, nil
	case "true":
		if o.Platform == nil {
			return false, setupErr("--report true needs a logged-in profile or an API key")
		}
		return true, nil
	}
	return false, nil
}

// --- the agent ---

// loadAgent reads the target: a bundle or a plain package file, or the registry agent's bundle.
func loadAgent(ctx context.Context, o LocalOptions) (*runplan.LocalPackage, func(afps.Dependency) (*runplan.LocalPackage, error), error) {
	var data []byte
	var err error
	if o.Target.IsPath() {
		data, err = os.ReadFile(expandHome(o.Target.Path))
		if err != nil {
			return nil, nil, setupErr("read %s: %v", o.Target.Path, err)
		}
	} else {
		if data, err = downloadBundle(ctx, o); err != nil {
			return nil, nil, err
		}
	}
	if !afps.LooksLikeBundle(data) {
		pkg, err := afps.ReadPackage(data, afps.ValidateOptions{})
		if err != nil {
			return nil, nil, setupErr("%s is not a valid .afps package: %v", o.Target.Label(), err)
		}
		if pkg.Manifest.Type != afps.TypeAgent {
			return nil, nil, setupErr("%s is a %s package, not an agent", o.Target.Label(), pkg.Manifest.Type)
		}
		// A plain package's dependencies come from the system packages embedded in the binary.
		return &runplan.LocalPackage{ID: pkg.Manifest.Name, Manifest: pkg.Manifest, Files: pkg.Files}, nil, nil
	}
	b, err := afps.ReadBundle(data, afps.BundleLimits)
	if err != nil {
		return nil, nil, setupErr("%s is not a valid .afps-bundle: %v", o.Target.Label(), err)
	}
	root := b.RootPackage()
	if root.Manifest == nil || root.Manifest.Type != afps.TypeAgent {
		return nil, nil, setupErr("the root of %s is not an agent", o.Target.Label())
	}
	lookup := func(dep afps.Dependency) (*runplan.LocalPackage, error) {
		for _, p := range b.Packages {
			if p.Name == dep.Name {
				return &runplan.LocalPackage{ID: p.Name, Manifest: p.Manifest, Files: p.Files}, nil
			}
		}
		return nil, nil
	}
	return &runplan.LocalPackage{ID: root.Name, Manifest: root.Manifest, Files: root.Files}, lookup, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// downloadBundle fetches the registry agent's bundle and checks its X-Bundle-Integrity.
func downloadBundle(ctx context.Context, o LocalOptions) ([]byte, error) {
	if o.Platform == nil {
		return nil, setupErr("--local %s needs a logged-in profile or an API key to download the agent", o.Target.Label())
	}
	path := "/api/agents/" + o.Target.PackageID() + "/bundle?source=draft"
	if o.Target.Spec != "" {
		path = "/api/agents/" + o.Target.PackageID() + "/bundle?version=" + url.QueryEscape(o.Target.Spec)
	}
	res, err := o.Platform.Do(ctx, http.MethodGet, path, nil, map[string]string{"Accept": "application/zip"})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, afps.BundleLimits.MaxCompressed+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", o.Target.Label(), err)
	}
	if res.StatusCode != http.StatusOK {
		apiErr := apiclient.ErrorFromResponse(res, data)
		if apiErr.Code == "agent_not_installed_in_app" {
			return nil, setupErr("%s is not installed in this application — install it first (appstrate api POST /api/applications/<appId>/packages)", o.Target.Label())
		}
		if res.StatusCode == http.StatusNotFound && strings.Contains(apiErr.Message, "endpoint not found") {
			return nil, setupErr("%s does not serve agent bundles (GET /api/agents/{scope}/{name}/bundle): run the agent "+
				"remotely (without --local), or locally from a .afps or .afps-bundle file", o.Platform.Instance)
		}
		return nil, setupErr("download the bundle of %s: %v", o.Target.Label(), apiErr)
	}
	integrity := res.Header.Get("X-Bundle-Integrity")
	if integrity == "" {
		return nil, setupErr("the bundle of %s came without X-Bundle-Integrity", o.Target.Label())
	}
	if !afps.VerifySRI(data, integrity) {
		return nil, setupErr("the bundle of %s does not match its integrity %s", o.Target.Label(), integrity)
	}
	o.Printer.Status("→ fetched bundle %s", o.Target.Label())
	return data, nil
}

// writeWorkspace writes the work directory into a fresh temporary folder.
func writeWorkspace(files map[string][]byte) (string, error) {
	dir, err := os.MkdirTemp("", "appstrate-run-*")
	if err != nil {
		return "", fmt.Errorf("workspace: %w", err)
	}
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("workspace: %w", err)
		}
		if err := os.WriteFile(p, content, 0o600); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("workspace: %w", err)
		}
	}
	return dir, nil
}

// --- reporting ---

// remoteRun is the answer of POST /api/runs/remote.
type remoteRun struct {
	RunID       string `json:"runId"`
	URL         string `json:"url"`
	FinalizeURL string `json:"finalizeUrl"`
	Secret      string `json:"secret"`
	ExpiresAt   string `json:"expiresAt"`
}

// registerRun creates the platform's record of the run and its sink.
func registerRun(ctx context.Context, o LocalOptions, agent *runplan.LocalPackage) (*remoteRun, error) {
	if o.Platform.AppID == "" {
		return nil, setupErr("reporting needs an application: pin one (appstrate app switch) or set APPSTRATE_APP_ID")
	}
	m := agent.Manifest
	version := o.CLIVersion
	if version == "" {
		version = "dev"
	}
	body := map[string]any{"applicationId": o.Platform.AppID, "input": orEmpty(o.Input),
		"contextSnapshot": map[string]any{"os": runtime.GOOS + " " + goarch(), "cliVersion": version,
			"bundle": map[string]any{"name": m.Name, "version": m.Version}}}
	if o.Target.IsPath() {
		raw, err := m.Object()
		if err != nil {
			return nil, err
		}
		body["source"] = map[string]any{"kind": "inline", "manifest": raw, "prompt": string(agent.Files[afps.PromptFile])}
	} else {
		src := map[string]any{"kind": "registry", "packageId": o.Target.PackageID(), "stage": "draft"}
		if o.Target.Spec != "" {
			src["stage"], src["spec"] = "published", o.Target.Spec
		}
		body["source"] = src
	}
	if o.SinkTTL > 0 {
		body["sink"] = map[string]any{"ttlSeconds": o.SinkTTL}
	}
	var rr remoteRun
	res, err := o.Platform.Do(ctx, http.MethodPost, "/api/runs/remote", body, map[string]string{
		"Idempotency-Key": ids.UUID(), "X-Appstrate-Runner-Kind": "cli", "X-Appstrate-Runner-Name": "appstrate run"})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusCreated {
		return nil, setupErr("register the run: %v", apiclient.ErrorFromResponse(res, raw))
	}
	if err := json.Unmarshal(raw, &rr); err != nil || rr.RunID == "" || rr.URL == "" || rr.FinalizeURL == "" || rr.Secret == "" {
		return nil, setupErr("register the run: unexpected answer %s", abbreviate(string(raw)))
	}
	return &rr, nil
}

func goarch() string {
	if runtime.GOARCH == "amd64" {
		return "x64"
	}
	return runtime.GOARCH
}

// abandon finalizes a registered run that could not start (failed, with the setup error), within 5 s, and
// returns err.
func abandon(ctx context.Context, r *remoteRun, err error) error {
	if r == nil {
		return err
	}
	c, cerr := sink.NewClient(sink.ClientConfig{RunID: r.RunID, URL: r.URL, FinalizeURL: r.FinalizeURL, Secret: r.Secret,
		Retry: sink.RetryPolicy{Attempts: 1}})
	if cerr != nil {
		return err
	}
	defer c.Close()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = runner.FinalizeSetupFailure(fctx, c, time.Now(), err)
	return err
}

// heartbeatInterval is how often a local run tells the platform it is alive.
const heartbeatInterval = 15 * time.Second

func heartbeat(ctx context.Context, c *sink.Client, log *slog.Logger) (stop func()) {
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Heartbeat(hctx, heartbeatInterval); err != nil && log != nil && !errors.Is(err, context.Canceled) {
			log.Warn("heartbeat stopped", "error", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// teeSink prints every event and forwards it to the platform's sink when the run reports.
type teeSink struct {
	printer *Printer
	runID   string
	remote  *sink.Client
}

func (t *teeSink) Emit(ctx context.Context, eventType string, data any) error {
	t.printer.Event(NewEvent(eventType, t.runID, time.Now(), data))
	if t.remote == nil {
		return nil
	}
	return t.remote.Emit(ctx, eventType, data)
}

func (t *teeSink) Finalize(ctx context.Context, result sink.RunResult) error {
	if t.remote == nil {
		return nil
	}
	return t.remote.Finalize(ctx, result)
}

// --- the model ---

// localModel is the model a local run talks to.
type localModel struct {
	api, id, baseURL, key string
	viaProxy              bool
	preset                *preset
}

// preset is the part of GET /api/models a local run reads.
type preset struct {
	ID            string   `json:"id"`
	Label         string   `json:"label"`
	ProviderID    string   `json:"providerId"`
	APIShape      string   `json:"apiShape"`
	Enabled       bool     `json:"enabled"`
	IsDefault     bool     `json:"isDefault"`
	ContextWindow *int     `json:"contextWindow"`
	MaxTokens     *int     `json:"maxTokens"`
	Reasoning     bool     `json:"reasoning"`
	Input         []string `json:"input"`
	Cost          *struct {
		Input, Output, CacheRead, CacheWrite float64
	} `json:"cost"`
}

// envProviders maps a model API to the provider whose <PROVIDER>_API_KEY holds its key.
func envProvider(api string) string {
	switch {
	case api == "anthropic-messages":
		return "anthropic"
	case strings.HasPrefix(api, "openai-") || strings.HasPrefix(api, "azure-openai"):
		return "openai"
	case strings.HasPrefix(api, "mistral"):
		return "mistral"
	case strings.HasPrefix(api, "google"):
		return "google"
	}
	return ""
}

// Defaults of the env model source.
const (
	DefaultModelAPI = "anthropic-messages"
	DefaultModelID  = "claude-sonnet-4-5"
)

func resolveModel(ctx context.Context, o LocalOptions) (*localModel, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if o.ModelSource == ModelSourcePreset {
		return presetModel(ctx, o)
	}
	api := orDefault(o.ModelAPI, DefaultModelAPI)
	if _, err := llm.ParseAPI(api); err != nil {
		return nil, setupErr("--model-api %q is not a model API this runtime speaks", api)
	}
	id := orDefault(o.ModelID, orDefault(getenv("APPSTRATE_MODEL_ID"), DefaultModelID))
	key := o.LLMAPIKey
	if key == "" {
		if p := envProvider(api); p != "" {
			key = getenv(strings.ToUpper(p) + "_API_KEY")
		}
	}
	for _, name := range []string{"APPSTRATE_LLM_API_KEY", "LLM_API_KEY"} {
		if key == "" {
			key = getenv(name)
		}
	}
	if key == "" {
		p := envProvider(api)
		return nil, setupErr("no API key for %s: pass --llm-api-key or set %s_API_KEY (or APPSTRATE_LLM_API_KEY), or use --model-source preset to go through the platform",
			api, strings.ToUpper(orDefault(p, "LLM")))
	}
	return &localModel{api: api, id: id, baseURL: o.ModelBaseURL, key: key}, nil
}

// presetModel picks an organization preset and reaches it through the platform's LLM proxy.
func presetModel(ctx context.Context, o LocalOptions) (*localModel, error) {
	if o.Platform == nil {
		return nil, setupErr("--model-source preset needs a logged-in profile or an API key")
	}
	if o.Platform.OrgID == "" {
		return nil, setupErr("--model-source preset needs an organization: pin one (appstrate org switch) or set APPSTRATE_ORG_ID")
	}
	var list struct {
		Data []preset `json:"data"`
	}
	if err := o.Platform.JSON(ctx, http.MethodGet, "/api/models", nil, &list); err != nil {
		return nil, fmt.Errorf("list the model presets: %w", err)
	}
	var chosen *preset
	for i := range list.Data {
		p := &list.Data[i]
		if (o.ModelID != "" && p.ID == o.ModelID) || (o.ModelID == "" && p.IsDefault) {
			chosen = p
			break
		}
	}
	switch {
	case chosen == nil && o.ModelID != "":
		return nil, setupErr("Preset %q not found (appstrate models list shows them)", o.ModelID)
	case chosen == nil:
		return nil, setupErr("the organization has no default model: pass --model <preset id>")
	case !chosen.Enabled:
		return nil, setupErr("Preset %q is disabled", chosen.ID)
	}
	route, api := proxyRoute(chosen)
	if route == "" {
		return nil, setupErr("Preset %q speaks %s, which the LLM proxy does not carry (anthropic-messages, openai-completions, mistral-conversations)",
			chosen.ID, chosen.APIShape)
	}
	return &localModel{api: api, id: chosen.ID, baseURL: o.Platform.Instance + route, viaProxy: true, preset: chosen}, nil
}

// proxyRoute is the LLM proxy base URL path of a preset and the API the runner speaks to it.
func proxyRoute(p *preset) (route, api string) {
	switch {
	case p.APIShape == "anthropic-messages":
		return "/api/llm-proxy/anthropic-messages", "anthropic-messages"
	case p.APIShape == "mistral-conversations":
		return "/api/llm-proxy/mistral-conversations/v1", "openai-completions"
	case p.APIShape == "openai-completions" || p.APIShape == "openai-chat" || p.ProviderID == "openai":
		return "/api/llm-proxy/openai-completions/v1", "openai-completions"
	}
	return "", ""
}

// proxyKeyPlaceholder is the API key the model client sends through the proxy: the platform authenticates
// the bearer and injects the real key.
const proxyKeyPlaceholder = "x-platform-bearer-injected-via-headers"

// client is the model client: through the platform (the bearer and X-Org-Id on every request, X-Run-Id
// for metering) or straight to the provider.
func (m *localModel) client(p *Platform, runID string) (llm.Client, error) {
	cfg := llm.Config{BaseURL: m.baseURL, APIKey: m.key}
	if m.viaProxy {
		cfg.APIKey = proxyKeyPlaceholder
		cfg.HTTPClient = &http.Client{Transport: p.Transport(nil)}
		cfg.Header = http.Header{"X-Run-Id": {runID}}
	}
	c, err := llm.New(m.api, cfg)
	if err != nil {
		return nil, setupErr("model client: %v", err)
	}
	return c, nil
}

func (m *localModel) runnerModel() runner.Model {
	rm := runner.Model{API: m.api, ID: m.id, BaseURL: m.baseURL, APIKey: m.key, Retries: 2}
	if p := m.preset; p != nil {
		rm.APIKey, rm.Reasoning, rm.Input = proxyKeyPlaceholder, p.Reasoning, p.Input
		if p.ContextWindow != nil {
			rm.ContextWindow = *p.ContextWindow
		}
		if p.MaxTokens != nil {
			rm.MaxTokens = *p.MaxTokens
		}
		if p.Cost != nil {
			rm.Cost = llm.Pricing{InputPerMTok: p.Cost.Input, OutputPerMTok: p.Cost.Output,
				CacheReadPerMTok: p.Cost.CacheRead, CacheWritePerMTok: p.Cost.CacheWrite}
		}
	}
	if rm.MaxTokens == 0 {
		rm.MaxTokens = runner.DefaultMaxTokens
	}
	if rm.ContextWindow == 0 {
		rm.ContextWindow = runner.DefaultContextWindow
	}
	return rm
}
