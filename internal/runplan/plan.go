package runplan

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/models"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/uploads"
)

// defaultTimeout applies to a run row without a timeout (the runs service always sets one).
const defaultTimeout = 300 * time.Second

// Planner builds the execution of runs from the database and the services that own each part.
type Planner struct {
	DB       *store.DB
	Registry *packages.Registry      // draft and version files of the organizations' packages
	System   *packages.SystemCatalog // nil = packages.System(), the packages embedded in the binary
	Models   *models.Service         // the run's model (with its key)
	Resolver *providers.Resolver     // nil = no provider counts as connected
	Uploads  *uploads.Service        // nil = documents come only from Run.Documents
	Logger   *slog.Logger
}

func (p *Planner) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// Run is what the worker knows of the run it plans; everything else is read from the runs row.
type Run struct {
	ID    string
	Token string // the run token (runs.Token) for the sidecar's /internal calls
	// Version is the agent version the run was created for; "" = the agent's draft.
	Version     string
	Traceparent string // W3C traceparent of the request that created the run ("" = none)
	// Documents are the run's uploaded files. nil = read the upload:// references of the input's file
	// fields through Uploads (uploads the run consumed when it was created).
	Documents []Document
}

// Plan is a run's execution with what was resolved to build it (the worker records the latter on the run).
type Plan struct {
	Spec   executor.Spec
	Prompt string
	// Agent is the agent's identity "@scope/name@version".
	Agent string
	// Model is the model the run uses (its key is only in Spec.SidecarEnv).
	Model       models.Model
	ModelSource string // "system" or "org"
	// ProviderProfiles maps each declared provider to the connection profile the run uses for it.
	ProviderProfiles map[string]string
	// ConnectedProviders are the providers with a usable connection (CONNECTED_PROVIDERS).
	ConnectedProviders []string
	// OutputSchema is the agent's output schema ("" when it declares none).
	OutputSchema json.RawMessage
	// ToolPackages are the agent's tool packages the runner hosts in a JavaScript runtime (the system tools
	// are native).
	ToolPackages []string
}

// Build returns the executor.Spec of a claimed run (see Plan).
func (p *Planner) Build(ctx context.Context, run Run, sink Sink, platformURL string) (executor.Spec, error) {
	plan, err := p.Plan(ctx, run, sink, platformURL)
	if err != nil {
		return executor.Spec{}, err
	}
	return plan.Spec, nil
}

// runRow is the part of a runs row the plan needs.
type runRow struct {
	orgID, appID                                   string
	packageID, userID, endUserID, modelID, proxyID sql.NullString
	profileID                                      sql.NullString // the connection profile the run names
	input, config                                  sql.NullString
	timeoutSeconds                                 int
}

// Plan loads everything the run needs and assembles its execution: the agent (Run.Version, else the draft)
// and its dependencies, the model (the run's, else the organization's default, else the system default),
// the connected providers of the run's actor, the pinned persistence, the documents; then the prompt, the
// work directory and the environments of the runner and the sidecar. sink and platformURL (the platform's
// address as the sidecar reaches it) come from the caller. Errors the run itself causes are *Error
// (ErrModelNotConfigured, ErrAgentNotFound, missing dependencies, an invalid prompt template…); others are
// platform failures.
func (p *Planner) Plan(ctx context.Context, run Run, sink Sink, platformURL string) (*Plan, error) {
	if sink.URL == "" || sink.FinalizeURL == "" || sink.Secret == "" {
		return nil, errors.New("runplan: the run's sink credentials are missing")
	}
	g, err := p.gather(ctx, run)
	if err != nil {
		return nil, err
	}
	return p.assemble(run, g, sink, platformURL)
}

// gathered is everything a run's plan is assembled from.
type gathered struct {
	row       *runRow
	bundle    *bundle
	model     models.Resolved
	providers []Provider        // every provider of the bundle, Connected set
	profiles  map[string]string // provider → connection profile
	persisted Persisted
	documents []Document // with distinct workspace names
}

// gather loads the run row and what it refers to.
func (p *Planner) gather(ctx context.Context, run Run) (*gathered, error) {
	row, err := p.loadRun(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	if !row.packageID.Valid {
		return nil, ErrAgentNotFound
	}
	g := &gathered{row: row}
	agent, err := p.loadAgent(ctx, row.orgID, row.packageID.String, run.Version)
	if err != nil {
		return nil, err
	}
	if g.bundle, err = p.loadBundle(ctx, row.orgID, agent); err != nil {
		return nil, err
	}
	if g.model, err = p.resolveModel(ctx, row.orgID, row.modelID.String); err != nil {
		return nil, err
	}
	if g.providers, g.profiles, err = p.connectProviders(ctx, row, g.bundle); err != nil {
		return nil, err
	}
	scope := ScopeOf(row.userID.String, row.endUserID.String)
	if g.persisted, err = LoadPersisted(ctx, p.DB, agent.ID, row.appID, scope); err != nil {
		return nil, err
	}
	docs := run.Documents
	if docs == nil {
		if docs, err = p.uploadedDocuments(ctx, row, agent.Manifest); err != nil {
			return nil, err
		}
	}
	g.documents = distinctNames(docs)
	return g, nil
}

// assemble builds the prompt, the work directory and both environments.
func (p *Planner) assemble(run Run, g *gathered, sink Sink, platformURL string) (*Plan, error) {
	agent, m := g.bundle.Agent, g.bundle.Agent.Manifest
	timeout := time.Duration(g.row.timeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	in := PromptInput{RunID: run.ID, TimeoutSeconds: int(timeout / time.Second), SchemaVersion: m.SchemaVersion,
		Providers: g.providers, Input: values(m.Input, g.row.input.String), Config: values(m.Config, g.row.config.String),
		Documents: g.documents, Checkpoint: g.persisted.Checkpoint, PinnedSlots: g.persisted.PinnedSlots,
		Memories: g.persisted.Memories, AgentPrompt: string(agent.Files[afps.PromptFile])}
	if m.Output != nil {
		in.OutputSchema = m.Output.Schema
	}
	var skills, tools, hosted []PackageFiles
	var toolIDs, hostedIDs []string
	var toolPackages []ToolPackage
	for _, t := range g.bundle.Tools {
		in.Tools = append(in.Tools, t.tool())
		tools = append(tools, t.files())
		toolIDs = append(toolIDs, t.ID)
		if isSystemTool(t.ID) {
			continue
		}
		hosted = append(hosted, t.files())
		hostedIDs = append(hostedIDs, t.ID)
		toolPackages = append(toolPackages, ToolPackage{ID: t.ID, Dir: ToolPackageDir(t.ID), Entrypoint: t.Manifest.Entrypoint})
	}
	for _, s := range g.bundle.Skills {
		in.Skills = append(in.Skills, s.skill())
		skills = append(skills, s.files())
	}
	prompt, err := BuildPrompt(in)
	if err != nil {
		return nil, err
	}
	files, err := BuildWorkspace(WorkspaceInput{Prompt: prompt, Documents: g.documents, Skills: skills, Tools: tools,
		ToolPackages: hosted, Providers: g.providers})
	if err != nil {
		return nil, fmt.Errorf("runplan: %w", err)
	}
	var connected []string
	for _, pr := range g.providers {
		if pr.Connected {
			connected = append(connected, pr.ID)
		}
	}
	env, err := RunnerEnv(RunnerEnvInput{RunID: run.ID, Model: g.model, OutputSchema: in.OutputSchema,
		ConnectedProviders: connected, ToolIDs: toolIDs, ToolPackages: toolPackages, Sink: sink, Traceparent: run.Traceparent})
	if err != nil {
		return nil, err
	}
	sidecarEnv, err := SidecarEnv(SidecarEnvInput{RunID: run.ID, RunToken: run.Token, PlatformAPIURL: platformURL,
		Model: g.model, Sink: sink})
	if err != nil {
		return nil, err
	}
	if g.row.proxyID.Valid && g.row.proxyID.String != "" {
		p.log().Warn("runplan: outbound proxies are not supported yet; the run goes out directly", "run", run.ID,
			"proxy", g.row.proxyID.String)
	}
	source := models.SourceOrg
	if g.model.IsSystem {
		source = models.SourceSystem
	}
	return &Plan{
		Spec: executor.Spec{RunID: run.ID, Files: files, Env: env, SidecarEnv: sidecarEnv, RunToken: run.Token,
			Timeout: timeout},
		Prompt: prompt, Agent: m.Identity(), Model: g.model.Model, ModelSource: source, ProviderProfiles: g.profiles,
		ConnectedProviders: connected, OutputSchema: in.OutputSchema, ToolPackages: hostedIDs,
	}, nil
}

// isSystemTool: the runner implements the system tools natively; it hosts the code of every other tool
// package in a JavaScript runtime.
func isSystemTool(id string) bool { return len(AgentTools([]string{id})) > 0 }

// splitTools separates the system tools, which the runner implements natively, from the ids of the other
// tool packages, whose code must be hosted (see isSystemTool).
func splitTools(tools []*loadedPackage) (system []*loadedPackage, others []string) {
	for _, t := range tools {
		if !isSystemTool(t.ID) {
			others = append(others, t.ID)
			continue
		}
		system = append(system, t)
	}
	return system, others
}

func (p *Planner) loadRun(ctx context.Context, id string) (*runRow, error) {
	var r runRow
	err := p.DB.QueryRowContext(ctx, `SELECT org_id, application_id, package_id, user_id, end_user_id, model_id, proxy_id,
		connection_profile_id, input, config, timeout_seconds FROM runs WHERE id = ?`, id).Scan(&r.orgID, &r.appID,
		&r.packageID, &r.userID, &r.endUserID, &r.modelID, &r.proxyID, &r.profileID, &r.input, &r.config, &r.timeoutSeconds)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrRunNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load run %s: %w", id, err)
	}
	return &r, nil
}

// resolveModel picks the run's model: the one it names (when it still exists and is enabled), else the
// organization's default, else the system default.
func (p *Planner) resolveModel(ctx context.Context, orgID, id string) (models.Resolved, error) {
	m, err := p.Models.Resolve(ctx, orgID, id)
	if errors.Is(err, models.ErrNotFound) && id != "" {
		p.log().Warn("runplan: the run's model is gone or disabled; using the default model", "org", orgID, "model", id)
		m, err = p.Models.Resolve(ctx, orgID, "")
	}
	if errors.Is(err, models.ErrNoModel) || errors.Is(err, models.ErrNotFound) {
		return models.Resolved{}, ErrModelNotConfigured
	}
	if err != nil {
		return models.Resolved{}, fmt.Errorf("resolve model: %w", err)
	}
	return m, nil
}

// connectProviders resolves a connection profile per provider of the bundle for the run's actor (and the
// profile the run names, if any) and marks the providers with a usable connection; it returns them with
// provider → profile.
func (p *Planner) connectProviders(ctx context.Context, row *runRow, b *bundle) ([]Provider, map[string]string, error) {
	out := make([]Provider, len(b.Providers))
	for i, pkg := range b.Providers {
		out[i] = pkg.provider()
	}
	profiles := map[string]string{}
	if p.Resolver == nil || len(out) == 0 {
		return out, profiles, nil
	}
	rc := providers.RunContext{OrgID: row.orgID, AppID: row.appID, AgentID: b.Agent.ID, ExplicitProfileID: row.profileID.String}
	switch {
	case row.endUserID.Valid:
		rc.Actor = providers.Actor{EndUserID: row.endUserID.String}
	case row.userID.Valid:
		rc.Actor = providers.Actor{UserID: row.userID.String}
	}
	for _, pr := range out {
		req := providers.Requirement{ProviderID: pr.ID}
		if cfg, ok := b.Agent.Manifest.ProvidersConfiguration[pr.ID]; ok {
			req.Scopes = cfg.Scopes
		}
		rc.Requirements = append(rc.Requirements, req)
	}
	resolved, missing, err := p.Resolver.Resolve(ctx, nil, rc)
	if errors.Is(err, providers.ErrProfileNotFound) {
		return nil, nil, &Error{Code: "connection_profile_not_found", Err: err,
			Message: "The run's connection profile cannot be used: it does not exist or belongs to someone else"}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("resolve provider connections: %w", err)
	}
	stale := map[string]bool{}
	for _, m := range missing {
		if m.Reason == providers.ReasonNeedsReconnection {
			stale[m.ProviderID] = true
		}
	}
	for i := range out {
		r, ok := resolved[out[i].ID]
		if !ok {
			continue
		}
		profiles[out[i].ID] = r.ProfileID
		out[i].Connected = r.ConnectionID != "" && !stale[out[i].ID]
	}
	return out, profiles, nil
}

// maxDocumentBytes bounds the bytes read for one uploaded document (uploads are capped lower).
const maxDocumentBytes = 1 << 30

// uploadedDocuments reads the uploads the input's file fields reference (upload://upl_…): they must belong to
// the run's application and have been consumed when the run was created.
func (p *Planner) uploadedDocuments(ctx context.Context, row *runRow, m *afps.Manifest) ([]Document, error) {
	if p.Uploads == nil || m.Input == nil {
		return nil, nil
	}
	values := decodeObject(json.RawMessage(row.input.String))
	var docs []Document
	for _, prop := range schemaProperties(m.Input.Schema, m.Input.PropertyOrder) {
		if !prop.File {
			continue
		}
		var refs []string
		switch v := values[prop.Name].(type) {
		case string:
			refs = append(refs, v)
		case []any:
			for _, item := range v {
				if s, ok := item.(string); ok {
					refs = append(refs, s)
				}
			}
		}
		for _, ref := range refs {
			id, err := uploads.ParseURI(ref)
			if err != nil {
				continue // not an upload reference: nothing to place
			}
			doc, err := p.readUpload(ctx, row, id)
			if err != nil {
				return nil, err
			}
			docs = append(docs, doc)
		}
	}
	return docs, nil
}

func (p *Planner) readUpload(ctx context.Context, row *runRow, id string) (Document, error) {
	unavailable := func(why string, err error) error {
		return &Error{Code: ErrDocumentUnavailable.Code, Message: "Uploaded file " + id + " " + why, Err: err}
	}
	u, err := p.Uploads.Get(ctx, row.orgID, row.appID, id)
	if errors.Is(err, uploads.ErrNotFound) {
		return Document{}, unavailable("does not exist", err)
	}
	if err != nil {
		return Document{}, err
	}
	if u.ConsumedAt.IsZero() {
		return Document{}, unavailable("was not consumed when the run was created", nil)
	}
	if u.ContentKey == "" {
		return Document{}, unavailable("has no content", nil)
	}
	rc, err := p.Uploads.Open(ctx, uploads.File{ID: u.ID, Name: u.Name, MIME: u.MIME, Size: u.ContentSize, BlobKey: u.ContentKey})
	if err != nil {
		return Document{}, unavailable("cannot be read", err)
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, maxDocumentBytes))
	if err != nil {
		return Document{}, unavailable("cannot be read", err)
	}
	return Document{Name: u.Name, MIME: u.MIME, Data: data}, nil
}

// distinctNames sanitises the documents' names into distinct workspace file names.
func distinctNames(docs []Document) []Document {
	files := make([]uploads.File, len(docs))
	for i, d := range docs {
		files[i] = uploads.File{Name: d.Name}
	}
	names := uploads.DocumentNames(files)
	out := make([]Document, len(docs))
	for i, d := range docs {
		d.Name = names[i]
		out[i] = d
	}
	return out
}

func values(w *afps.SchemaWrapper, raw string) Values {
	v := Values{Values: json.RawMessage(raw)}
	if w != nil {
		v.Schema, v.PropertyOrder = w.Schema, w.PropertyOrder
	}
	return v
}
