package runs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Inline runs (RUNTIME.md §1.1, §6; API.md §4.8): an ad-hoc agent — a manifest and a prompt in the request —
// runs like an installed one. The manifest is checked against INLINE_RUN_LIMITS and validated as an AFPS
// agent manifest, then kept as an ephemeral shadow package @inline/r-<uuid> of the organization, which the
// worker and the planner load like any draft. Unlike upstream, the shadow package is inserted in the
// transaction that inserts the run, so a refused or failed request leaves no package behind. The platform
// owns the shadow's identity: the manifest's name is replaced by the shadow id, and type and version get
// "agent" and "0.0.0" when absent.
//
// Caps beyond sizes: at most max_skills entries in dependencies.skills and max_tools in dependencies.tools;
// at most max_authorized_uris entries across providersConfiguration.<provider>.authorizedUris, each a valid
// authorizedUris glob; unless wildcard_uri_allowed, no `*` in a pattern's host and no allowAllUris.
//
// Retention: SweepInline (a periodic job) deletes the shadow packages older than retention_days whose runs
// are all terminal. The runs stay (their package_id becomes NULL; agent_scope keeps "@inline").

// InlineScope is the scope of the shadow packages of inline runs.
const InlineScope = "@inline"

// Field error codes of InlineError (API.md §3.2).
const (
	CodeInvalidManifest = "invalid_manifest"
	CodeOutOfRange      = "out_of_range"
	CodeInvalidValue    = "invalid_value"
	CodeInvalidType     = "invalid_type"
	CodeInvalidFormat   = "invalid_format"
	CodeRequired        = "required"
)

// InlineParams is an inline run request.
type InlineParams struct {
	Manifest json.RawMessage // the agent manifest, a JSON object
	Prompt   string          // prompt.md
	Input    json.RawMessage
	Config   json.RawMessage // over the manifest's config defaults
	ModelID  *string
	ProxyID  *string
}

// InlineRun is a created inline run and its shadow package.
type InlineRun struct {
	RunID, PackageID string
}

// InlineIssue is one problem of an inline run request; Field is its dotted path ("manifest.dependencies.skills").
type InlineIssue struct {
	Field, Code, Message string
}

// InlineError is an inline run request over the caps or with an invalid manifest or prompt (400
// validation_failed); it carries every problem found.
type InlineError struct {
	Issues []InlineIssue
}

func (e *InlineError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.Field + ": " + is.Message
	}
	return "inline run: " + strings.Join(parts, "; ")
}

// CreateInline admits an inline run exactly as an agent run (input, config, provider readiness, the
// organization's run limits) and creates it `pending` with its job and its shadow package in one transaction.
func (s *Service) CreateInline(ctx context.Context, c Caller, p InlineParams) (*InlineRun, error) {
	agent, err := s.inlineAgent(p)
	if err != nil {
		return nil, err
	}
	cp := CreateParams{Input: p.Input, Config: p.Config, ModelID: p.ModelID, ProxyID: p.ProxyID,
		Claim: func(ctx context.Context, tx *store.Tx) error {
			return insertShadowPackage(ctx, tx, c, agent, p.Prompt)
		}}
	pr, err := s.prepare(ctx, c, agent, nil, cp)
	if err != nil {
		return nil, err
	}
	runID, err := s.insert(ctx, c, pr, cp)
	if err != nil {
		return nil, err
	}
	return &InlineRun{RunID: runID, PackageID: agent.id}, nil
}

// ValidateInline is the preflight of CreateInline without the organization's run limits and without
// creating anything: nil when CreateInline would admit the run now.
func (s *Service) ValidateInline(ctx context.Context, c Caller, p InlineParams) error {
	agent, err := s.inlineAgent(p)
	if err != nil {
		return err
	}
	_, err = s.prepare(ctx, c, agent, nil, CreateParams{Input: p.Input, Config: p.Config, ModelID: p.ModelID, ProxyID: p.ProxyID})
	return err
}

// inlineLimits is INLINE_RUN_LIMITS; a zero Inline (a Service built without configuration) means the defaults.
func (s *Service) inlineLimits() config.InlineRunLimits {
	if s.Inline.RatePerMin == 0 {
		return config.DefaultInlineRunLimits()
	}
	return s.Inline
}

// inlineAgent checks the request against the caps and the manifest as an agent manifest, and names the
// shadow package that will keep it.
func (s *Service) inlineAgent(p InlineParams) (*agentRef, error) {
	lim := s.inlineLimits()
	raw := bytes.TrimSpace(p.Manifest)
	var is []InlineIssue
	add := func(field, code, msg string) { is = append(is, InlineIssue{Field: field, Code: code, Message: msg}) }
	switch {
	case len(raw) == 0 || string(raw) == "null":
		add("manifest", CodeRequired, "is required")
	case raw[0] != '{' || !json.Valid(raw):
		add("manifest", CodeInvalidManifest, "must be a JSON object")
	case len(raw) > lim.MaxManifestBytes:
		add("manifest", CodeOutOfRange, "must be at most "+strconv.Itoa(lim.MaxManifestBytes)+" bytes")
	}
	switch {
	case len(p.Prompt) > lim.MaxPromptBytes:
		add("prompt", CodeOutOfRange, "must be at most "+strconv.Itoa(lim.MaxPromptBytes)+" bytes")
	case strings.TrimSpace(p.Prompt) == "":
		add("prompt", CodeRequired, "must not be empty")
	}
	if len(is) > 0 && is[0].Field == "manifest" {
		return nil, &InlineError{Issues: is}
	}
	agent := newShadowAgent(nil)
	stamped, err := stampShadowManifest(raw, agent.id)
	if err != nil {
		return nil, err
	}
	m, err := afps.ParseManifest(stamped)
	if err != nil {
		return nil, &InlineError{Issues: append(manifestIssues(err), is...)}
	}
	var mi []InlineIssue
	if m.Type != afps.TypeAgent {
		mi = append(mi, InlineIssue{Field: "manifest.type", Code: CodeInvalidManifest, Message: `must be "agent"`})
	} else if err := afps.Validate(m, afps.ValidateOptions{}); err != nil {
		mi = append(mi, manifestIssues(err)...)
	}
	mi = append(mi, capIssues(m, lim)...)
	if is = append(mi, is...); len(is) > 0 {
		return nil, &InlineError{Issues: is}
	}
	agent.manifest, agent.versionLabel = stamped, m.Version
	return agent, nil
}

// stampShadowManifest sets the manifest's name to the shadow id, and type and version when absent.
func stampShadowManifest(raw []byte, id string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, &InlineError{Issues: []InlineIssue{{Field: "manifest", Code: CodeInvalidManifest, Message: "must be a JSON object"}}}
	}
	set := func(key, value string, always bool) {
		if _, ok := obj[key]; always || !ok {
			obj[key], _ = json.Marshal(value)
		}
	}
	set("name", id, true)
	set("type", string(afps.TypeAgent), false)
	set("version", "0.0.0", false)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("encode inline manifest: %w", err)
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// manifestIssues maps afps issues onto `manifest.<path>` fields.
func manifestIssues(err error) []InlineIssue {
	var ve *afps.ValidationError
	if !errors.As(err, &ve) {
		return []InlineIssue{{Field: "manifest", Code: CodeInvalidManifest, Message: err.Error()}}
	}
	out := make([]InlineIssue, 0, len(ve.Issues))
	for _, i := range ve.Issues {
		field := "manifest"
		if i.Path != "" {
			field += "." + i.Path
		}
		out = append(out, InlineIssue{Field: field, Code: CodeInvalidManifest, Message: i.Message})
	}
	return out
}

// capIssues checks the skills, tools and authorized URIs of a manifest against the caps.
func capIssues(m *afps.Manifest, lim config.InlineRunLimits) []InlineIssue {
	var out []InlineIssue
	if n := len(m.Dependencies.Skills); n > lim.MaxSkills {
		out = append(out, InlineIssue{Field: "manifest.dependencies.skills", Code: CodeOutOfRange,
			Message: "must declare at most " + strconv.Itoa(lim.MaxSkills) + " skills (" + strconv.Itoa(n) + " declared)"})
	}
	if n := len(m.Dependencies.Tools); n > lim.MaxTools {
		out = append(out, InlineIssue{Field: "manifest.dependencies.tools", Code: CodeOutOfRange,
			Message: "must declare at most " + strconv.Itoa(lim.MaxTools) + " tools (" + strconv.Itoa(n) + " declared)"})
	}
	return append(out, uriIssues(m, lim)...)
}

// uriIssues checks providersConfiguration.<id>.authorizedUris and allowAllUris.
func uriIssues(m *afps.Manifest, lim config.InlineRunLimits) []InlineIssue {
	var head struct {
		ProvidersConfiguration map[string]map[string]json.RawMessage `json:"providersConfiguration"`
	}
	if json.Unmarshal(m.Raw, &head) != nil {
		return nil // not objects: the manifest validation reports it
	}
	ids := make([]string, 0, len(head.ProvidersConfiguration))
	for id := range head.ProvidersConfiguration {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []InlineIssue
	total := 0
	for _, id := range ids {
		cfg := head.ProvidersConfiguration[id]
		base := "manifest.providersConfiguration." + id
		var all bool
		if json.Unmarshal(cfg["allowAllUris"], &all) == nil && all && !lim.WildcardURIAllowed {
			out = append(out, InlineIssue{Field: base + ".allowAllUris", Code: CodeInvalidValue,
				Message: "is not allowed in an inline run (wildcard URIs are disabled)"})
		}
		raw, ok := cfg["authorizedUris"]
		if !ok || string(raw) == "null" {
			continue
		}
		var uris []string
		if json.Unmarshal(raw, &uris) != nil {
			out = append(out, InlineIssue{Field: base + ".authorizedUris", Code: CodeInvalidType, Message: "must be an array of strings"})
			continue
		}
		total += len(uris)
		for i, u := range uris {
			field := base + ".authorizedUris[" + strconv.Itoa(i) + "]"
			switch {
			case !lim.WildcardURIAllowed && wildcardHost(u):
				out = append(out, InlineIssue{Field: field, Code: CodeInvalidValue,
					Message: "must not use a wildcard host in an inline run (wildcard URIs are disabled)"})
			case !credentials.ValidPattern(u):
				out = append(out, InlineIssue{Field: field, Code: CodeInvalidFormat,
					Message: "must be an http(s) URL pattern such as https://api.example.com/**"})
			}
		}
	}
	if total > lim.MaxAuthorizedURIs {
		out = append(out, InlineIssue{Field: "manifest.providersConfiguration", Code: CodeOutOfRange,
			Message: "must list at most " + strconv.Itoa(lim.MaxAuthorizedURIs) + " authorized URIs in all (" + strconv.Itoa(total) + " listed)"})
	}
	return out
}

// wildcardHost reports whether an authorizedUris entry has a `*` outside its path (its host or port), or
// is no URL at all but a bare glob.
func wildcardHost(pattern string) bool {
	_, rest, ok := strings.Cut(pattern, "://")
	if !ok {
		return strings.Contains(pattern, "*")
	}
	authority, _, _ := strings.Cut(rest, "/")
	return strings.Contains(authority, "*")
}

// InlineSweepArgs is the periodic job that runs SweepInline.
type InlineSweepArgs struct{}

// Kind names the job.
func (InlineSweepArgs) Kind() string { return "runs_inline_sweep" }

// InlineSweepInterval is how often the retention sweep of inline packages runs.
const InlineSweepInterval = time.Hour

// inlineSweepBatch bounds the packages one DELETE removes.
const inlineSweepBatch = 500

// registerInlineSweep registers SweepInline on q, at start and every InlineSweepInterval (leader only).
func (s *Service) registerInlineSweep(q *jobs.Client) error {
	err := jobs.Register(q, river.WorkFunc(func(ctx context.Context, _ *river.Job[InlineSweepArgs]) error {
		n, err := s.SweepInline(ctx)
		if n > 0 {
			s.log().InfoContext(ctx, "runs: expired inline packages deleted", "count", n)
		}
		return err
	}))
	if err != nil {
		return fmt.Errorf("register inline sweep: %w", err)
	}
	_, err = q.AddPeriodic(river.PeriodicInterval(InlineSweepInterval), func() (river.JobArgs, *river.InsertOpts) {
		return InlineSweepArgs{}, &river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: InlineSweepInterval}}
	}, &river.PeriodicJobOpts{RunOnStart: true, ID: "runs_inline_sweep"})
	if err != nil {
		return fmt.Errorf("schedule inline sweep: %w", err)
	}
	return nil
}

// SweepInline deletes the shadow packages of inline runs created more than INLINE_RUN_LIMITS.retention_days
// ago whose runs are all terminal, and returns how many. Their runs stay, without a package.
func (s *Service) SweepInline(ctx context.Context) (int, error) {
	cutoff := isotime.From(time.Now().Add(-time.Duration(s.inlineLimits().RetentionDays) * 24 * time.Hour))
	total := 0
	for {
		res, err := s.DB.ExecContext(ctx, `DELETE FROM packages WHERE id IN (
			SELECT p.id FROM packages p WHERE p.ephemeral = ? AND p.created_at < ?
			AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.package_id = p.id AND r.status IN ('pending', 'running'))
			LIMIT ?)`, true, cutoff, inlineSweepBatch)
		if err != nil {
			return total, fmt.Errorf("delete expired inline packages: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("delete expired inline packages: %w", err)
		}
		total += int(n)
		if n < inlineSweepBatch {
			return total, nil
		}
	}
}
