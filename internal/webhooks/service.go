package webhooks

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Errors of the webhook service.
var (
	ErrNotFound = errors.New("webhook not found")
	// ErrApplicationNotFound: the applicationId names no application of the organization.
	ErrApplicationNotFound = errors.New("application not found")
	// ErrLimitReached: the org scope or the application already has MaxPerScope webhooks.
	ErrLimitReached = errors.New("webhook limit reached")
	// ErrForbiddenScope: an API key acting outside its own application (org-level webhooks, other apps).
	ErrForbiddenScope = errors.New("API keys can only manage application-level webhooks of their own application")
	// ErrNoKeyring: no encryption key is configured, so secrets cannot be stored or read.
	ErrNoKeyring = errors.New("webhooks: no encryption key configured (CONNECTION_ENCRYPTION_KEY)")
)

// ValidationError is a request field the service refuses (400 validation_failed).
type ValidationError struct {
	Field   string // body member, e.g. "url"
	Code    string // invalid_format, invalid_value, required, ...
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, code, msg string) error {
	return &ValidationError{Field: field, Code: code, Message: msg}
}

// Limits and defaults (API.md §3.7).
const (
	MaxPerScope          = 20                  // webhooks per org scope and per application
	DefaultRotateWindow  = 7 * 24 * time.Hour  // dual-signature window of a rotation
	MaxRotateWindow      = 30 * 24 * time.Hour // longest window accepted
	DeliveryTimeout      = 15 * time.Second    // one delivery attempt, response included
	MaxAttempts          = 8                   // attempts of one delivery
	DefaultDeliveryLimit = 50                  // deliveries listed when no limit is given
)

// Levels of a webhook.
const (
	LevelOrg         = "org"
	LevelApplication = "application"
)

// Webhook is one endpoint (secrets excluded).
type Webhook struct {
	ID            string
	OrgID         string
	Level         string // LevelOrg | LevelApplication
	ApplicationID string // "" for org-level webhooks
	URL           string
	Events        []string
	PackageID     string // "" = every agent
	PayloadMode   string // PayloadFull | PayloadSummary
	Enabled       bool
	CreatedAt     isotime.Time
	UpdatedAt     isotime.Time
}

// Scope is who is asking: the organization, and for API keys the application they are pinned to (they see
// and manage only that application's webhooks).
type Scope struct {
	OrgID string
	AppID string // set for API keys
}

// Service owns the webhooks and webhook_deliveries tables, Publish and the delivery worker. Build it with
// its fields set, then register its worker with RegisterWorker before the job client starts.
type Service struct {
	DB      *store.DB
	Jobs    jobs.Queue       // where deliveries are enqueued
	Keyring *secrets.Keyring // encrypts the signing secrets at rest; nil refuses to create or deliver
	Logger  *slog.Logger     // nil = slog.Default()

	// AllowLocal accepts URLs naming localhost, 127.0.0.1 or [::1] (plain http included) and lets their
	// deliveries reach the loopback interface. Set outside production only.
	AllowLocal bool
	// Guard decides which addresses deliveries may connect to; the zero value refuses every internal
	// address and resolves with the system resolver. Tests plug a Resolver or Allow prefixes here. It is
	// read once, by the first delivery.
	Guard netguard.Policy
	// Now is the clock of signatures and rotation windows (nil = time.Now).
	Now func() time.Time

	clientsOnce sync.Once
	strict      *http.Client // deliveries to public destinations
	local       *http.Client // deliveries to a local development host (AllowLocal)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// clients returns the delivery clients: redirects are never followed and each attempt has
// DeliveryTimeout in total.
func (s *Service) clients() (strict, local *http.Client) {
	s.clientsOnce.Do(func() {
		build := func(p netguard.Policy) *http.Client {
			return &http.Client{
				Transport:     p.Transport(),
				Timeout:       DeliveryTimeout,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
		}
		s.strict = build(s.Guard)
		lp := s.Guard
		lp.AllowLoopback = true
		s.local = build(lp)
	})
	return s.strict, s.local
}
