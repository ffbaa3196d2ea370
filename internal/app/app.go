package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/version"
)

// App is one running platform process.
type App struct {
	Config *config.Config
	Logger *slog.Logger
	DB     *store.DB
	HTTP   *httpapi.Server
}

// New opens the database (applying migrations) and builds every service and route.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*App, error) {
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return Assemble(cfg, logger, db), nil
}

// Assemble builds the services and routes over an already open database (tests pass their own).
func Assemble(cfg *config.Config, logger *slog.Logger, db *store.DB) *App {
	a := &App{Config: cfg, Logger: logger, DB: db}
	a.HTTP = newHTTP(cfg, logger)
	a.registerRoutes()
	return a
}

// newHTTP builds the transport; it needs no database so the OpenAPI document can be produced offline.
func newHTTP(cfg *config.Config, logger *slog.Logger) *httpapi.Server {
	v, _ := version.Get()
	return httpapi.New(httpapi.Options{
		AppURL:         cfg.AppURL,
		TrustedOrigins: cfg.TrustedOrigins,
		TrustProxyHops: cfg.TrustProxyHops,
		BodyLimitBytes: cfg.BodyLimitBytes,
		Version:        v,
		Logger:         logger,
	})
}

// registerRoutes adds every operation of the platform. Each area registers its own routes here.
func (a *App) registerRoutes() {
	a.HTTP.RegisterHealth(httpapi.HealthChecks{
		Database:     a.DB.Ping,
		AgentsLoaded: func(context.Context) bool { return false }, // no system agents are bundled yet
	})
}

// Close releases the database.
func (a *App) Close() error { return a.DB.Close() }

// Serve answers HTTP on ln until ctx is cancelled, then drains: new POSTs get 503 shutting_down, in-flight
// requests get up to ShutdownTimeout to finish, and the listener closes.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
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
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	a.Logger.Info("shutting down", "drainTimeout", a.Config.ShutdownTimeout.String())
	a.HTTP.BeginShutdown()
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
	return err
}
