package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/blob"
	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/idempotency"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/llmproxy"
	"github.com/appstrate/appstrate-go/internal/mail"
	"github.com/appstrate/appstrate-go/internal/models"
	"github.com/appstrate/appstrate-go/internal/notifications"
	"github.com/appstrate/appstrate-go/internal/oidc"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/realtime"
	"github.com/appstrate/appstrate-go/internal/routes/activate"
	"github.com/appstrate/appstrate-go/internal/routes/agents"
	"github.com/appstrate/appstrate-go/internal/routes/apikeys"
	"github.com/appstrate/appstrate-go/internal/routes/applications"
	"github.com/appstrate/appstrate-go/internal/routes/apppackages"
	"github.com/appstrate/appstrate-go/internal/routes/authroutes"
	cliroutes "github.com/appstrate/appstrate-go/internal/routes/cli"
	connroutes "github.com/appstrate/appstrate-go/internal/routes/connections"
	"github.com/appstrate/appstrate-go/internal/routes/credentialproxy"
	"github.com/appstrate/appstrate-go/internal/routes/endusers"
	"github.com/appstrate/appstrate-go/internal/routes/invite"
	"github.com/appstrate/appstrate-go/internal/routes/library"
	llmproxyroutes "github.com/appstrate/appstrate-go/internal/routes/llmproxy"
	"github.com/appstrate/appstrate-go/internal/routes/me"
	modelroutes "github.com/appstrate/appstrate-go/internal/routes/models"
	notifroutes "github.com/appstrate/appstrate-go/internal/routes/notifications"
	"github.com/appstrate/appstrate-go/internal/routes/orgs"
	pkgroutes "github.com/appstrate/appstrate-go/internal/routes/packages"
	"github.com/appstrate/appstrate-go/internal/routes/profiles"
	provroutes "github.com/appstrate/appstrate-go/internal/routes/providers"
	rtroutes "github.com/appstrate/appstrate-go/internal/routes/realtime"
	runroutes "github.com/appstrate/appstrate-go/internal/routes/runs"
	"github.com/appstrate/appstrate-go/internal/routes/runside"
	schedroutes "github.com/appstrate/appstrate-go/internal/routes/schedules"
	uploadroutes "github.com/appstrate/appstrate-go/internal/routes/uploads"
	whroutes "github.com/appstrate/appstrate-go/internal/routes/webhooks"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/schedules"
	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/tenancy"
	"github.com/appstrate/appstrate-go/internal/uploads"
	"github.com/appstrate/appstrate-go/internal/version"
	"github.com/appstrate/appstrate-go/internal/webhooks"
)

// App is one running platform process: its services and its HTTP transport.
type App struct {
	Config  *config.Config
	Logger  *slog.Logger
	DB      *store.DB
	Limiter ratelimit.Limiter
	HTTP    *httpapi.Server

	strategies []httpapi.Strategy      // authentication strategies, in pipeline order
	tenancy    httpapi.TenancyResolver // org/app/end-user resolution
	orgVersion httpapi.OrgAPIVersion   // an organization's pinned API version

	Orgs         *tenancy.Orgs           // organizations, members, invitations, org settings
	Applications *tenancy.Applications   // applications of an organization
	Keys         *secrets.Keyring        // the encryption keyring of every secret at rest
	APIKeys      *auth.APIKeys           // API keys; also the first authentication strategy
	Accounts     *auth.Accounts          // users, passwords, sessions (Better Auth compatible); the session strategy
	OIDC         *oidc.Service           // CLI device flow, access JWTs, refresh families; the JWT strategy (first)
	Blobs        blob.Store              // object storage (package archives): FS_STORAGE_PATH
	Registry     *packages.Registry      // package registry: drafts, versions, dist-tags, imports, downloads
	Installs     *packages.Installations // per-application installation and the library view
	Agents       *packages.Agents        // agents of an application and their per-application settings
	Resolver     *providers.Resolver     // which connection a run uses per provider, and provider readiness
	Jobs         *jobs.Client            // durable jobs and periodic jobs (River on this database); Serve starts it
	Idempotency  *idempotency.DB         // Idempotency-Key records of the creation routes (API.md §3.6)
	Webhooks     *webhooks.Service       // outbound webhooks: endpoints, secrets, Publish and the delivery worker
	Uploads      *uploads.Service        // direct uploads: signed PUT URLs, content checks, upload:// consumption
	Runs         *runs.Service           // runs: admission, the run worker, finalize, cancel, watchdog
	Models       *models.Service         // org models, model-provider credentials, system models, Resolve
	Schedules    *schedules.Service      // agent schedules: cron in a time zone, each slot fired exactly once
	Realtime     *realtime.Hub           // live run notifications for the SSE streams (API.md §6)

	Providers   *providers.Providers       // provider definitions and each application's admin credentials
	Connections *providers.Connections     // connections: OAuth 2 / OAuth 1.0a flows, API keys, credentials, refresh
	CredProxy   *providers.CredentialProxy // ALL /api/credential-proxy/proxy
	LLMProxy    *llmproxy.Service          // POST /api/llm-proxy/*

	systemAgents   atomic.Bool        // the embedded catalog had agents at the boot sync (the agents health check)
	stopSweeper    func()             // stops the hourly sweep of expired idempotency keys (set by New)
	stopBackground context.CancelFunc // stops what Assemble started (the realtime listener)
}

// Option adjusts the assembly (tests add strategies).
type Option func(*App)

// WithStrategies appends authentication strategies after the built-in ones.
func WithStrategies(s ...httpapi.Strategy) Option {
	return func(a *App) { a.strategies = append(a.strategies, s...) }
}

// New opens the database (applying migrations) and assembles the platform over it.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts ...Option) (*App, error) {
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := jobs.Migrate(ctx, db, logger); err != nil { // River's own tables, beside the store's
		return nil, errors.Join(fmt.Errorf("open job queue: %w", err), db.Close())
	}
	a := Assemble(cfg, logger, db, opts...)
	if _, err := a.APIKeys.Startup(ctx); err != nil { // revoke keys that expired while down
		logger.Warn("startup: expired api keys not revoked", "error", err)
	}
	if err := a.OIDC.Startup(ctx); err != nil { // the appstrate-cli client and a signing key (retried on use)
		logger.Warn("startup: oidc client or signing key not created", "error", err)
	}
	a.SyncSystemPackages(ctx)
	a.stopSweeper = idempotency.StartSweeper(ctx, a.Idempotency, time.Hour, logger) // sweeps at boot, then hourly
	// Expired uploads: swept when the job client starts, then hourly, by the job leader only.
	if err := uploads.RegisterSweep(a.Jobs, a.Uploads); err != nil {
		logger.Error("startup: uploads sweep not scheduled", "error", err)
	}
	if err := a.Runs.RegisterWorker(a.Jobs); err != nil { // after jobs.Migrate: the watchdog is a periodic job
		logger.Error("startup: run worker not registered", "error", err)
	}
	if err := a.Schedules.RegisterWorker(a.Jobs); err != nil { // fires the due schedules (job leader, every 15 s)
		logger.Error("startup: schedules worker not registered", "error", err)
	}
	// Runs execute only in a real server (tests plug their own executor): as children of this binary.
	a.Runs.Executor = a.buildExecutor()
	a.reapRuns()
	return a, nil
}

// SyncSystemPackages loads the packages embedded in the binary into the database and the blob store
// (PACKAGES.md §3.2; skipped when unchanged since the last boot). Failures are logged, never fatal: the
// platform serves without the packages that could not be synced.
func (a *App) SyncSystemPackages(ctx context.Context) {
	res, err := a.syncSystemPackages(ctx)
	// The catalog (every file parsed, and on a first boot every archive packed) is garbage now, and so are the
	// compressors the packing pooled: one collection moves a sync.Pool's content aside, the next frees it. Hand
	// it all back to the OS so that an idle Tier 0 server stays small.
	runtime.GC()
	debug.FreeOSMemory()
	if err != nil {
		a.Logger.Error("startup: system packages not fully synced", "error", err)
		return
	}
	a.Logger.Debug("startup: system packages synced", "skipped", res.Skipped, "versionsInserted", res.VersionsInserted,
		"versionsReplaced", res.VersionsReplaced, "draftsUpdated", res.DraftsUpdated, "blobsWritten", res.BlobsWritten,
		"duration", res.Duration.String())
}

// syncSystemPackages syncs a catalog of its own, which nothing holds once it returns.
func (a *App) syncSystemPackages(ctx context.Context) (*packages.SystemSyncResult, error) {
	cat := packages.LoadSystem()
	a.systemAgents.Store(len(cat.List(packages.TypeAgent)) > 0)
	return packages.SyncSystem(ctx, a.DB, a.Blobs, cat, a.Logger)
}

// Assemble builds the services and routes over an already open database (tests pass their own).
func Assemble(cfg *config.Config, logger *slog.Logger, db *store.DB, opts ...Option) *App {
	a := &App{Config: cfg, Logger: logger, DB: db, Limiter: ratelimit.NewMemory()}
	a.buildServices()
	for _, opt := range opts {
		opt(a)
	}
	a.HTTP = newHTTP(cfg, logger, a.strategies, a.tenancy, a.orgVersion)
	a.registerRoutes()
	a.startRealtime()
	return a
}

// startRealtime installs the notification triggers and makes the database the realtime hub's source.
func (a *App) startRealtime() {
	if a.DB == nil { // assembled offline (the OpenAPI document)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopBackground = cancel
	if err := realtime.Install(ctx, a.DB); err != nil {
		a.Logger.Error("startup: realtime triggers not installed; live run streams stay silent", "error", err)
	}
	realtime.Listen(ctx, a.DB, a.Realtime, a.Logger)
}

// newHTTP builds the transport.
func newHTTP(cfg *config.Config, logger *slog.Logger, strategies []httpapi.Strategy, tenancy httpapi.TenancyResolver,
	orgVersion httpapi.OrgAPIVersion) *httpapi.Server {
	v, _ := version.Get()
	return httpapi.New(httpapi.Options{
		AppURL:         cfg.AppURL,
		TrustedOrigins: cfg.TrustedOrigins,
		TrustProxyHops: cfg.TrustProxyHops,
		BodyLimitBytes: cfg.BodyLimitBytes,
		Version:        v,
		Logger:         logger,
		Strategies:     strategies,
		Tenancy:        tenancy,
		OrgAPIVersion:  orgVersion,
	})
}

// buildServices constructs every service and sets the authentication strategies (API key first, then
// session, as API.md §1 step 9) and the tenancy resolver. Each area adds its construction here.
func (a *App) buildServices() {
	a.Jobs = jobs.New(a.DB, jobs.Options{Logger: a.Logger}) // first: services register their workers on it
	// One keyring for every secret at rest. It is nil only when assembling offline (no key): every secret
	// read or write then fails, and no signing key can be created.
	keys, err := secrets.FromConfig(a.Config)
	if err != nil && a.DB != nil {
		a.Logger.Warn("no encryption key: stored secrets are unavailable", "error", err)
	}
	a.Keys = keys
	a.OIDC = oidc.New(a.DB, oidc.Options{AppURL: a.Config.AppURL, Keyring: a.Keys, Logger: a.Logger})
	a.strategies = append(a.strategies, a.OIDC) // module strategies first: Bearer ey… JWTs (API.md §1 step 9a)
	a.APIKeys = auth.NewAPIKeys(a.DB, a.Logger)
	a.strategies = append(a.strategies, a.APIKeys) // then Bearer ask_… (API.md §1 step 9b)
	a.Accounts = auth.NewAccounts(a.DB, auth.OptionsFromConfig(a.Config, mail.FromConfig(a.Config), a.Logger))
	a.strategies = append(a.strategies, a.Accounts) // then the session cookie or bearer session token (step 9c)
	a.tenancy = tenancy.Resolver{DB: a.DB}
	a.Orgs = &tenancy.Orgs{DB: a.DB, DisableCreation: a.Config.AuthDisableOrgCreation,
		PlatformAdmins: a.Config.AuthPlatformAdminEmails, MailEnabled: a.Config.SMTPEnabled(), Logger: a.Logger}
	a.orgVersion = a.Orgs.APIVersion
	a.Applications = &tenancy.Applications{DB: a.DB}
	a.Accounts.HasPendingInvitation = a.Orgs.HasPendingInvitation
	a.Accounts.CreateBootstrapOrg = a.Orgs.CreateBootstrapOrg
	a.Orgs.SendInvitation = tenancy.InvitationMailer(mail.FromConfig(a.Config), a.Config.AppURL)
	a.Blobs = blob.NewFS(a.Config.FSStoragePath)
	a.Registry = packages.NewRegistry(a.DB, a.Blobs, a.Logger)
	a.Installs = &packages.Installations{DB: a.DB}
	a.Agents = &packages.Agents{DB: a.DB, AppURL: a.Config.AppURL}
	a.Resolver = &providers.Resolver{DB: a.DB, Keyring: a.Keys}
	// The provider part of GET /api/agents/{scope}/{name}/readiness.
	a.Agents.Providers = providers.AgentReadiness{Resolver: a.Resolver}
	a.Orgs.OnOrgCreated = append(a.Orgs.OnOrgCreated, packages.InstallHelloWorld) // @<slug>/hello-world in the default app
	a.Idempotency = idempotency.NewDB(a.DB)
	a.Webhooks = &webhooks.Service{DB: a.DB, Jobs: a.Jobs, Keyring: a.Keys, Logger: a.Logger, AllowLocal: !a.Config.Production}
	if err := a.Webhooks.RegisterWorker(a.Jobs); err != nil {
		a.Logger.Error("webhooks: delivery worker not registered", "error", err)
	}
	a.Uploads = uploads.New(a.DB, uploads.NewFSObjects(filepath.Join(a.Config.FSStoragePath, "uploads")),
		a.Config.UploadSigningSecret, a.Config.AppURL, a.Logger)
	a.buildProviderServices()
	a.Runs = &runs.Service{DB: a.DB, Jobs: a.Jobs, Webhooks: a.Webhooks, Resolver: a.Resolver, Limiter: a.Limiter,
		Limits: a.Config.PlatformRunLimits, Inline: a.Config.InlineRunLimits, Uploads: a.Uploads,
		TokenSecret: a.Config.RunTokenSecret, Heartbeat: a.Config.RunHeartbeatInterval,
		Stall: a.Config.RunStallThreshold, Watchdog: a.Config.RunWatchdogInterval, Logger: a.Logger}
	a.Schedules = &schedules.Service{DB: a.DB, Runs: a.Runs, Resolver: a.Resolver, Logger: a.Logger}
	a.Realtime = realtime.NewHub()
	// User base URLs never reach internal addresses (netguard zero policy); system keys are the operator's.
	a.Models = &models.Service{DB: a.DB, Keyring: a.Keys, System: a.Config.SystemProviderKeys, Logger: a.Logger}
	// The run sink and the /internal routes: sink secrets, credentials for sidecars, pricing of metered usage.
	a.Runs.Keys, a.Runs.Sink = a.Keys, runs.SinkOptionsFrom(a.Config)
	a.Runs.Connections, a.Runs.Models = a.Connections, a.Models
	a.LLMProxy = &llmproxy.Service{Models: a.Models, Ledger: a.Runs, Logger: a.Logger}
	a.buildRunPlanner()
}

// buildProviderServices constructs the provider, connection and credential proxy services.
func (a *App) buildProviderServices() {
	a.Providers = providers.NewProviders(a.DB, a.Keys, a.Registry, a.Config.AppURL, a.Logger)
	a.Connections = providers.NewConnections(a.DB, a.Keys, a.Providers, a.Logger) // outbound policy: no internal addresses
	a.CredProxy = providers.NewCredentialProxy(a.Connections, a.Logger)
}

// registerRoutes adds every operation of the platform. Each area registers its own routes here.
func (a *App) registerRoutes() {
	a.HTTP.RegisterHealth(httpapi.HealthChecks{
		Database:     a.DB.Ping,
		AgentsLoaded: func(context.Context) bool { return a.systemAgents.Load() }, // none ship yet
	})
	authroutes.Register(a.HTTP, a.Accounts, a.Limiter, a.Logger)
	cliroutes.Register(a.HTTP, cliroutes.Deps{OIDC: a.OIDC, Accounts: a.Accounts, Members: a.tenancy, Limiter: a.Limiter, Logger: a.Logger})
	activate.Register(a.HTTP.Mux(), activate.Deps{OIDC: a.OIDC, Accounts: a.Accounts, Limiter: a.Limiter,
		Secret: a.Config.AuthSecret(), Logger: a.Logger})
	orgs.Register(a.HTTP.API(), a.Orgs)
	applications.Register(a.HTTP.API(), a.Applications)
	invite.Register(a.HTTP.API(), a.Orgs, a.Accounts, a.Limiter)
	apikeys.Register(a.HTTP.API(), a.APIKeys)
	endusers.Register(a.HTTP.API(), endusers.Deps{EndUsers: tenancy.EndUsers{DB: a.DB}, Limiter: a.Limiter, AppURL: a.Config.AppURL,
		Idempotency: a.Idempotency, Logger: a.Logger})
	me.Register(a.HTTP.API(), me.Deps{Profiles: auth.Profiles{DB: a.DB}, Pins: tenancy.AppProfilePins{DB: a.DB}})
	// The agents routes serve the rich agent detail GET /api/packages/agents/{scope}/{name} (and its {id} alias).
	pkgroutes.Register(a.HTTP.API(), pkgroutes.Deps{Registry: a.Registry, Limiter: a.Limiter, Logger: a.Logger,
		AgentDetailElsewhere: true})
	apppackages.Register(a.HTTP.API(), a.Installs)
	library.Register(a.HTTP.API(), a.Installs)
	agents.Register(a.HTTP.API(), a.Agents)
	agents.RegisterBundle(a.HTTP.API(), agents.BundleDeps{Registry: a.Registry, Limiter: a.Limiter, Logger: a.Logger})
	whroutes.Register(a.HTTP.API(), whroutes.Deps{Webhooks: a.Webhooks, Limiter: a.Limiter, Idempotency: a.Idempotency,
		Logger: a.Logger})
	provroutes.Register(a.HTTP.API(), provroutes.Deps{Providers: a.Providers, Logger: a.Logger})
	connroutes.Register(a.HTTP.API(), connroutes.Deps{Connections: a.Connections, AppURL: a.Config.AppURL,
		TrustedOrigins: a.Config.TrustedOrigins, Logger: a.Logger})
	credentialproxy.Register(a.HTTP.API(), credentialproxy.Deps{Proxy: a.CredProxy, Limiter: a.Limiter,
		RatePerMin: a.Config.CredentialProxyLimits.RatePerMin, Logger: a.Logger})
	llmproxyroutes.Register(a.HTTP.API(), llmproxyroutes.Deps{Proxy: a.LLMProxy, Limiter: a.Limiter,
		RatePerMin: a.Config.LLMProxyLimits.RatePerMin, Logger: a.Logger})
	agents.RegisterProviderProfiles(a.HTTP.API(), providers.AgentOverrides{DB: a.DB})
	profiles.Register(a.HTTP.API(), profiles.Deps{Profiles: providers.Profiles{DB: a.DB}, AppProfiles: providers.AppProfiles{DB: a.DB},
		Limiter: a.Limiter})
	uploadroutes.Register(a.HTTP.API(), a.Uploads, a.Limiter)
	runroutes.Register(a.HTTP.API(), runroutes.Deps{Runs: a.Runs, Limiter: a.Limiter, Idempotency: a.Idempotency,
		AppURL: a.Config.AppURL, Logger: a.Logger})
	schedroutes.Register(a.HTTP.API(), schedroutes.Deps{Schedules: a.Schedules, Limiter: a.Limiter, AppURL: a.Config.AppURL})
	runside.Register(a.HTTP.API(), runside.Deps{Runs: a.Runs, Limiter: a.Limiter}) // /internal/*, run token
	modelroutes.Register(a.HTTP.API(), modelroutes.Deps{Models: a.Models, Limiter: a.Limiter})
	rtroutes.Register(a.HTTP.Mux(), rtroutes.Deps{Hub: a.Realtime, DB: a.DB, Strategies: a.strategies, Tenancy: a.tenancy})
	notifroutes.Register(a.HTTP.API(), notifications.Service{DB: a.DB})
}

// StopBackground ends the live streams and stops what Assemble started (the realtime listener). Close calls it;
// tests that only Assemble call it themselves.
func (a *App) StopBackground() {
	a.Realtime.Close()
	if a.stopBackground != nil {
		a.stopBackground()
	}
}

// Close waits for background writes and releases the database.
func (a *App) Close() error {
	a.StopBackground()
	if a.stopSweeper != nil {
		a.stopSweeper()
	}
	a.closeExecutor()
	a.APIKeys.Wait()
	return a.DB.Close()
}

// Serve starts the job client, answers HTTP on ln until ctx is cancelled, then drains: new POSTs get 503
// shutting_down, in-flight requests get up to ShutdownTimeout to finish, and the listener closes. Running
// jobs then get up to ShutdownTimeout more before their contexts are cancelled.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if a.Config.PlatformAPIURL == "" { // sidecars and runners reach this process on its own listener
		a.Runs.Sink.PlatformURL = a.platformURL(ln)
	}
	if err := a.Jobs.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	srv := &http.Server{
		Handler:           a.HTTP.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       255 * time.Second, // long enough for SSE and polling clients, as upstream
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(fmt.Errorf("serve http: %w", err), a.stopJobs())
	case <-ctx.Done():
	}
	a.Logger.Info("shutting down", "drainTimeout", a.Config.ShutdownTimeout.String())
	a.HTTP.BeginShutdown()
	a.Realtime.Close() // live streams end, so the drain does not wait for them
	drainCtx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(drainCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		a.Logger.Warn("drain timeout reached, closing remaining connections")
		err = srv.Close()
	}
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return errors.Join(err, a.stopJobs()) // after the drain: requests may still enqueue jobs
}

// stopJobs stops the job client: running jobs get ShutdownTimeout to finish, then their contexts are cancelled.
func (a *App) stopJobs() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	return a.Jobs.Stop(ctx)
}
