package packages

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/blob"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Registry is the per-organization package registry (PACKAGES.md §2): drafts, immutable versions with their
// archives, dist-tags, yanking, imports (archive, bundle, GitHub), forks and downloads. It owns the rules and
// the SQL; routes only decode, call one method and encode.
//
// Every mutation runs in one transaction that first takes the package's lock (PostgreSQL
// pg_advisory_xact_lock(hashtext(id)); SQLite transactions are BEGIN IMMEDIATE and already exclusive), decides,
// and only then writes archives. Archive writes are journaled: when the transaction fails, new objects are
// removed and overwritten ones restored, so the database never references bytes it did not agree to.
type Registry struct {
	DB     *store.DB
	Blobs  blob.Store
	Logger *slog.Logger
	GitHub GitHubConfig
}

// GitHubConfig is where GitHub imports fetch from. Tests point both bases at a local TLS server.
type GitHubConfig struct {
	APIBase   string            // default https://api.github.com
	RawBase   string            // default https://raw.githubusercontent.com
	Transport http.RoundTripper // nil = http.DefaultTransport
	Timeout   time.Duration     // per request, default 30 s
}

// NewRegistry returns a registry over db and blobs. It does not touch the database.
func NewRegistry(db *store.DB, blobs blob.Store, logger *slog.Logger) *Registry {
	if logger == nil {
		logger = slog.Default()
	}
	return &Registry{DB: db, Blobs: blobs, Logger: logger, GitHub: GitHubConfig{
		APIBase: "https://api.github.com", RawBase: "https://raw.githubusercontent.com", Timeout: 30 * time.Second,
	}}
}

// Caller is who acts on the registry: the organization and application of the request and the user behind it
// (for an API key, its creator). Audit is the audit event template (actor, IP, request id, user agent).
type Caller struct {
	OrgID  string
	AppID  string
	UserID string
	Audit  audit.Event
}

// ErrorKind classifies a registry error; routes map it to an HTTP status.
type ErrorKind int

// Error kinds.
const (
	KindInvalid     ErrorKind = iota + 1 // 400
	KindForbidden                        // 403
	KindNotFound                         // 404
	KindConflict                         // 409
	KindRateLimited                      // 429 (an upstream service refused us)
	KindUpstream                         // 502 (an upstream service failed)
	KindInternal                         // 500, logged; the message is not shown
)

// FieldIssue is one field-addressed problem of an Error ("manifest.input.schema", "content", "sourceCode", ...).
type FieldIssue struct {
	Field   string
	Code    string
	Message string
	Title   string
}

// RegistryError is a refused registry operation with a stable code (PACKAGES.md §2.6).
type RegistryError struct {
	Kind    ErrorKind
	Code    string
	Message string
	Title   string // optional problem title ("Import Failed" for GitHub imports)
	Issues  []FieldIssue
	Err     error // optional cause
}

func (e *RegistryError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *RegistryError) Unwrap() error { return e.Err }

func regInvalid(code, msg string) *RegistryError {
	return &RegistryError{Kind: KindInvalid, Code: code, Message: msg}
}

func regForbidden(code, msg string) *RegistryError {
	return &RegistryError{Kind: KindForbidden, Code: code, Message: msg}
}

func regConflict(code, msg string) *RegistryError {
	return &RegistryError{Kind: KindConflict, Code: code, Message: msg}
}

func regNotFound(msg string) *RegistryError {
	return &RegistryError{Kind: KindNotFound, Code: "not_found", Message: msg}
}

// regNotOwned is upstream's requireOwnedPackage refusal.
func regNotOwned(p *Package) *RegistryError {
	if p.IsSystem() {
		return regForbidden("forbidden", "System packages cannot be modified. Fork it instead")
	}
	return regForbidden("forbidden", "Package "+p.ID+" is not owned by this organization. Fork it instead")
}

// regOrgSlug returns the slug of an organization.
func regOrgSlug(ctx context.Context, q store.Querier, orgID string) (string, error) {
	var slug string
	err := q.QueryRowContext(ctx, `SELECT slug FROM organizations WHERE id = ?`, orgID).Scan(&slug)
	if errors.Is(err, sql.ErrNoRows) {
		return "", regNotFound("Organization not found")
	}
	if err != nil {
		return "", fmt.Errorf("org slug: %w", err)
	}
	return slug, nil
}

// regScopeTaken reports whether another organization (or the platform) owns the scope "@<slug>": the scope is the
// slug of another organization, or "appstrate" (the system scope).
func regScopeTaken(ctx context.Context, q store.Querier, scope, orgID string) (bool, error) {
	slug := regTrimAt(scope)
	if slug == SystemScopeSlug {
		return true, nil
	}
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM organizations WHERE slug = ? AND id <> ?`, slug, orgID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("scope owner: %w", err)
	}
	return n > 0, nil
}

// SystemScopeSlug is the scope of the packages shipped with the platform.
const SystemScopeSlug = "appstrate"

func regTrimAt(scope string) string {
	if len(scope) > 0 && scope[0] == '@' {
		return scope[1:]
	}
	return scope
}

// LockPackage serialises writers of one package id for the rest of the transaction.
func LockPackage(ctx context.Context, tx *store.Tx, id string) error {
	if tx.Dialect() != store.Postgres {
		return nil // BEGIN IMMEDIATE: the transaction already holds the database write lock
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, id); err != nil {
		return fmt.Errorf("lock package %s: %w", id, err)
	}
	return nil
}

// blobJournal records archive writes made inside a transaction so they can be undone when it fails, and
// defers deletions until it commits.
type blobJournal struct {
	s           blob.Store
	undo        []func(context.Context)
	afterCommit []func(context.Context)
}

// put writes an object, remembering how to undo it.
func (j *blobJournal) put(ctx context.Context, bucket, key string, data []byte) error {
	old, err := j.s.Get(ctx, bucket, key)
	switch {
	case errors.Is(err, blob.ErrNotFound):
		j.undo = append(j.undo, func(ctx context.Context) { _ = j.s.Delete(ctx, bucket, key) })
	case err != nil:
		return fmt.Errorf("read %s/%s: %w", bucket, key, err)
	default:
		j.undo = append(j.undo, func(ctx context.Context) { _ = j.s.Put(ctx, bucket, key, old) })
	}
	if err := j.s.Put(ctx, bucket, key, data); err != nil {
		return fmt.Errorf("write %s/%s: %w", bucket, key, err)
	}
	return nil
}

// deleteLater removes an object once the transaction has committed.
func (j *blobJournal) deleteLater(bucket, key string) {
	j.afterCommit = append(j.afterCommit, func(ctx context.Context) { _ = j.s.Delete(ctx, bucket, key) })
}

// inTx runs fn in a transaction with a blob journal: blob writes are undone when the transaction fails,
// deferred deletions run after it commits.
func (r *Registry) inTx(ctx context.Context, fn func(tx *store.Tx, j *blobJournal) error) error {
	j := &blobJournal{s: r.Blobs}
	err := r.DB.InTx(ctx, func(tx *store.Tx) error { return fn(tx, j) })
	bg := context.WithoutCancel(ctx)
	if err != nil {
		for i := len(j.undo) - 1; i >= 0; i-- {
			j.undo[i](bg)
		}
		return err
	}
	for _, f := range j.afterCommit {
		f(bg)
	}
	return nil
}

// regAudit writes an audit event (best effort) inside the transaction.
func regAudit(ctx context.Context, q store.Querier, c Caller, action, resourceID string, after any) {
	ev := c.Audit
	ev.OrgID, ev.ApplicationID = c.OrgID, c.AppID
	ev.Action, ev.ResourceType, ev.ResourceID, ev.After = action, "package", resourceID, after
	if ev.ActorType == "" {
		ev.ActorType, ev.ActorID = audit.ActorUser, c.UserID
	}
	audit.Record(ctx, q, ev)
}

// regNull maps "" to NULL.
func regNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// regUUID mints a plain UUID (application_provider_credentials ids).
func regUUID() string { return ids.UUID() }

// regNow is the registry clock.
func regNow() isotime.Time { return isotime.Now() }
