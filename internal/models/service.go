package models

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Sources of credentials and models.
const (
	SourceBuiltIn = "built-in" // a credential of SYSTEM_PROVIDER_KEYS
	SourceCustom  = "custom"   // a credential of the organization
	SourceSystem  = "system"   // a model of SYSTEM_PROVIDER_KEYS
	SourceOrg     = "org"      // a model of the organization
)

// Errors of the service.
var (
	ErrNotFound           = errors.New("model not found")
	ErrCredentialNotFound = errors.New("model provider credential not found")
	// ErrCredentialInUse: an org model still uses the credential (409 credential_in_use).
	ErrCredentialInUse = errors.New("credential is used by at least one model")
	// ErrReadOnly: a system model or credential (SYSTEM_PROVIDER_KEYS) cannot be changed through the API.
	ErrReadOnly = errors.New("system models and credentials are read-only")
	// ErrNoModel: Resolve found no model (none given, no default).
	ErrNoModel = errors.New("no model configured")
	// ErrNoKeyring: no encryption key is configured, so API keys cannot be stored or read.
	ErrNoKeyring = errors.New("models: no encryption key configured (CONNECTION_ENCRYPTION_KEY)")
)

// ValidationError is a request member the service refuses (400).
type ValidationError struct {
	Field   string
	Code    string // the problem code: invalid_request, validation_failed
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, msg string) error {
	return &ValidationError{Field: field, Code: "invalid_request", Message: msg}
}

// TestError is a failed connection test: Code is llm's classification (provider_error, network_error,
// timeout) and Detail a message free of the API key.
type TestError struct {
	Code   string
	Detail string
	Err    error
}

func (e *TestError) Error() string { return e.Code + ": " + e.Detail }
func (e *TestError) Unwrap() error { return e.Err }

// Service is the models service.
type Service struct {
	DB      *store.DB
	Keyring *secrets.Keyring // nil only when assembled offline: credentials then fail with ErrNoKeyring
	// System is SYSTEM_PROVIDER_KEYS: read-only credentials and models listed in every organization.
	System []config.SystemProviderKey
	// Guard is the outbound policy for base URLs given by users (the zero value refuses internal addresses).
	// System keys are the operator's and are reached without it.
	Guard netguard.Policy
	// TestTimeout bounds a connection test (15 s when zero).
	TestTimeout time.Duration
	Logger      *slog.Logger
}

// Credential is a model-provider credential; the API key itself is never part of it.
type Credential struct {
	ID              string
	OrgID           string // "" for system credentials
	Label           string
	ProviderID      string
	Source          string // SourceBuiltIn or SourceCustom
	KeyHint         string // the key masked, e.g. "sk-…a1b2"
	BaseURLOverride string
	ExpiresAt       isotime.Time
	CreatedBy       string
	CreatedAt       isotime.Time
	UpdatedAt       isotime.Time
}

// Model is an org or system model.
type Model struct {
	ID            string
	Label         string
	ModelID       string // the provider's model name
	CredentialID  string
	ProviderID    string
	APIShape      string
	Input         []string // modalities: text, image
	ContextWindow int      // 0 = unknown
	MaxTokens     int      // 0 = unknown
	Reasoning     bool
	Cost          *llm.Pricing // USD per million tokens; nil = unpriced
	Enabled       bool
	IsDefault     bool // the organization's effective default
	Source        string
	CreatedAt     isotime.Time
	UpdatedAt     isotime.Time
}

// Resolved is a model with what is needed to call it.
type Resolved struct {
	Model
	BaseURL  string
	APIKey   string
	IsSystem bool
}

// NewCredential is a credential to create.
type NewCredential struct {
	Label, ProviderID, APIKey, BaseURLOverride string
	CreatedBy                                  string // user id; "" for API keys
}

// CredentialPatch changes the members set. BaseURLOverride "" removes the override.
type CredentialPatch struct {
	Label, APIKey, BaseURLOverride *string
}

// NewModel is an org model to create.
type NewModel struct {
	Label, ModelID, CredentialID string
	Input                        []string
	ContextWindow, MaxTokens     int
	Reasoning                    bool
	Cost                         *llm.Pricing
	Enabled                      *bool // default true
	IsDefault                    bool
}

// ModelPatch changes the members set. ClearCost removes the price.
type ModelPatch struct {
	Label, ModelID, CredentialID *string
	Input                        []string
	ContextWindow, MaxTokens     *int
	Reasoning, Enabled           *bool
	Cost                         *llm.Pricing
	ClearCost                    bool
	IsDefault                    *bool
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// MaskKey is the hint shown for an API key: its first 3 and last 4 characters, or only dots when it is short.
func MaskKey(key string) string {
	if len(key) < 12 {
		return "••••"
	}
	return key[:3] + "…" + key[len(key)-4:]
}

// --- system keys ---

func (s *Service) systemCredential(k config.SystemProviderKey) Credential {
	label := k.Label
	if label == "" {
		label = providerOf(k.ProviderID).DisplayName
	}
	return Credential{ID: k.ID, Label: label, ProviderID: k.ProviderID, Source: SourceBuiltIn, KeyHint: MaskKey(k.APIKey),
		BaseURLOverride: k.BaseURLOverride}
}

func systemModelID(k config.SystemProviderKey, m config.SystemModel) string {
	if m.ID != "" {
		return m.ID
	}
	return "system:" + k.ID + ":" + m.ModelID
}

func (s *Service) systemModels() []Resolved {
	var out []Resolved
	for _, k := range s.System {
		p := providerOf(k.ProviderID)
		base := k.BaseURLOverride
		if base == "" {
			base = p.DefaultBaseURL
		}
		for _, m := range k.Models {
			label := m.Label
			if label == "" {
				label = m.ModelID
			}
			input := m.Input
			if len(input) == 0 {
				input = []string{"text"}
			}
			var cost *llm.Pricing
			if m.Cost != nil {
				cost = &llm.Pricing{InputPerMTok: m.Cost.Input, OutputPerMTok: m.Cost.Output,
					CacheReadPerMTok: m.Cost.CacheRead, CacheWritePerMTok: m.Cost.CacheWrite}
			}
			out = append(out, Resolved{Model: Model{ID: systemModelID(k, m), Label: label, ModelID: m.ModelID,
				CredentialID: k.ID, ProviderID: k.ProviderID, APIShape: p.APIShape, Input: input,
				ContextWindow: m.ContextWindow, MaxTokens: m.MaxTokens, Reasoning: m.Reasoning, Cost: cost,
				Enabled: m.Enabled, IsDefault: m.IsDefault, Source: SourceSystem}, BaseURL: base, APIKey: k.APIKey, IsSystem: true})
		}
	}
	return out
}

func (s *Service) systemKey(id string) (config.SystemProviderKey, bool) {
	for _, k := range s.System {
		if k.ID == id {
			return k, true
		}
	}
	return config.SystemProviderKey{}, false
}

// --- credentials ---

const credentialColumns = `id, org_id, label, provider_id, key_hint, base_url_override, expires_at, created_by, created_at, updated_at`

func scanCredential(row interface{ Scan(...any) error }) (Credential, error) {
	var c Credential
	var base, by sql.NullString
	if err := row.Scan(&c.ID, &c.OrgID, &c.Label, &c.ProviderID, &c.KeyHint, &base, &c.ExpiresAt, &by, &c.CreatedAt,
		&c.UpdatedAt); err != nil {
		return Credential{}, err
	}
	c.BaseURLOverride, c.CreatedBy, c.Source = base.String, by.String, SourceCustom
	return c, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ListCredentials returns the system credentials, then the organization's by creation.
func (s *Service) ListCredentials(ctx context.Context, orgID string) ([]Credential, error) {
	out := []Credential{}
	for _, k := range s.System {
		out = append(out, s.systemCredential(k))
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT `+credentialColumns+` FROM model_provider_credentials WHERE org_id = ?
		ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list model provider credentials: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("list model provider credentials: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetCredential returns a credential of the organization or a system one.
func (s *Service) GetCredential(ctx context.Context, orgID, id string) (Credential, error) {
	if k, ok := s.systemKey(id); ok {
		return s.systemCredential(k), nil
	}
	return s.getCredential(ctx, s.DB, orgID, id)
}

func (s *Service) getCredential(ctx context.Context, q store.Querier, orgID, id string) (Credential, error) {
	c, err := scanCredential(q.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM model_provider_credentials
		WHERE id = ? AND org_id = ?`, id, orgID))
	if err != nil {
		if errors.Is(store.MapNotFound(err), store.ErrNotFound) {
			return Credential{}, ErrCredentialNotFound
		}
		return Credential{}, fmt.Errorf("get model provider credential: %w", err)
	}
	return c, nil
}

func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return invalid("baseUrlOverride", "must be an http(s) URL")
	}
	return nil
}

type storedKey struct {
	APIKey string `json:"apiKey"`
}

// CreateCredential stores a credential of the organization, its API key encrypted.
func (s *Service) CreateCredential(ctx context.Context, orgID string, n NewCredential) (Credential, error) {
	p, ok := LookupProvider(n.ProviderID)
	if !ok {
		return Credential{}, invalid("providerId", fmt.Sprintf("unknown model provider %q", n.ProviderID))
	}
	if n.BaseURLOverride != "" {
		if err := checkBaseURL(n.BaseURLOverride); err != nil {
			return Credential{}, err
		}
	} else if p.BaseURLRequired {
		return Credential{}, invalid("baseUrlOverride", "required for provider "+p.ID)
	}
	if n.APIKey == "" && p.KeyRequired {
		return Credential{}, invalid("apiKey", "required")
	}
	if s.Keyring == nil {
		return Credential{}, ErrNoKeyring
	}
	enc, err := s.Keyring.EncryptJSON(storedKey{APIKey: n.APIKey})
	if err != nil {
		return Credential{}, fmt.Errorf("encrypt model provider credential: %w", err)
	}
	now := isotime.Now()
	c := Credential{ID: ids.UUID(), OrgID: orgID, Label: n.Label, ProviderID: n.ProviderID, Source: SourceCustom,
		KeyHint: hint(n.APIKey), BaseURLOverride: n.BaseURLOverride, CreatedBy: n.CreatedBy, CreatedAt: now, UpdatedAt: now}
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO model_provider_credentials (id, org_id, label, provider_id,
		credentials_encrypted, key_hint, base_url_override, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, orgID, c.Label, c.ProviderID, enc, c.KeyHint,
		nullable(c.BaseURLOverride), nullable(c.CreatedBy), now, now); err != nil {
		return Credential{}, fmt.Errorf("create model provider credential: %w", err)
	}
	return c, nil
}

func hint(key string) string {
	if key == "" {
		return ""
	}
	return MaskKey(key)
}

// UpdateCredential changes a credential of the organization.
func (s *Service) UpdateCredential(ctx context.Context, orgID, id string, p CredentialPatch) (Credential, error) {
	if _, ok := s.systemKey(id); ok {
		return Credential{}, ErrReadOnly
	}
	var out Credential
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.getCredential(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		prov := providerOf(c.ProviderID)
		if p.Label != nil {
			c.Label = *p.Label
		}
		if p.BaseURLOverride != nil {
			if *p.BaseURLOverride != "" {
				if err := checkBaseURL(*p.BaseURLOverride); err != nil {
					return err
				}
			} else if prov.BaseURLRequired {
				return invalid("baseUrlOverride", "required for provider "+prov.ID)
			}
			c.BaseURLOverride = *p.BaseURLOverride
		}
		c.UpdatedAt = isotime.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE model_provider_credentials SET label = ?, base_url_override = ?,
			updated_at = ? WHERE id = ?`, c.Label, nullable(c.BaseURLOverride), c.UpdatedAt, c.ID); err != nil {
			return fmt.Errorf("update model provider credential: %w", err)
		}
		if p.APIKey != nil {
			if *p.APIKey == "" && prov.KeyRequired {
				return invalid("apiKey", "required")
			}
			if s.Keyring == nil {
				return ErrNoKeyring
			}
			enc, err := s.Keyring.EncryptJSON(storedKey{APIKey: *p.APIKey})
			if err != nil {
				return fmt.Errorf("encrypt model provider credential: %w", err)
			}
			c.KeyHint = hint(*p.APIKey)
			if _, err := tx.ExecContext(ctx, `UPDATE model_provider_credentials SET credentials_encrypted = ?, key_hint = ?
				WHERE id = ?`, enc, c.KeyHint, c.ID); err != nil {
				return fmt.Errorf("update model provider credential: %w", err)
			}
		}
		out = c
		return nil
	})
	return out, err
}

// DeleteCredential deletes a credential no org model uses.
func (s *Service) DeleteCredential(ctx context.Context, orgID, id string) error {
	if _, ok := s.systemKey(id); ok {
		return ErrReadOnly
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.getCredential(ctx, tx, orgID, id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM org_models WHERE credential_id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("delete model provider credential: %w", err)
		}
		if n > 0 {
			return ErrCredentialInUse
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM model_provider_credentials WHERE id = ? AND org_id = ?`, id, orgID); err != nil {
			return fmt.Errorf("delete model provider credential: %w", err)
		}
		return nil
	})
}

// endpoint is how to reach a provider with a credential: its API shape, base URL, key, and whether the base URL
// is the operator's (system keys, reached without the outbound guard).
type endpoint struct {
	Provider Provider
	BaseURL  string
	APIKey   string
	Trusted  bool
}

// credentialEndpoint decrypts the credential's key.
func (s *Service) credentialEndpoint(ctx context.Context, q store.Querier, orgID, id string) (endpoint, error) {
	if k, ok := s.systemKey(id); ok {
		p := providerOf(k.ProviderID)
		base := k.BaseURLOverride
		if base == "" {
			base = p.DefaultBaseURL
		}
		return endpoint{Provider: p, BaseURL: base, APIKey: k.APIKey, Trusted: true}, nil
	}
	var prov, enc string
	var base sql.NullString
	err := q.QueryRowContext(ctx, `SELECT provider_id, credentials_encrypted, base_url_override FROM model_provider_credentials
		WHERE id = ? AND org_id = ?`, id, orgID).Scan(&prov, &enc, &base)
	if err != nil {
		if errors.Is(store.MapNotFound(err), store.ErrNotFound) {
			return endpoint{}, ErrCredentialNotFound
		}
		return endpoint{}, fmt.Errorf("read model provider credential: %w", err)
	}
	if s.Keyring == nil {
		return endpoint{}, ErrNoKeyring
	}
	var key storedKey
	if err := s.Keyring.DecryptJSON(enc, &key); err != nil {
		return endpoint{}, fmt.Errorf("decrypt model provider credential %s: %w", id, err)
	}
	p := providerOf(prov)
	u := base.String
	if u == "" {
		u = p.DefaultBaseURL
	}
	return endpoint{Provider: p, BaseURL: u, APIKey: key.APIKey}, nil
}

// --- connection test ---

// TestResult is a successful connection test.
type TestResult struct {
	ModelID   string
	LatencyMs int64
}

// TestInput is an unsaved credential to test (POST …/test).
type TestInput struct {
	ProviderID, APIKey, BaseURLOverride, ModelID string
}

// TestKey tests an unsaved key.
func (s *Service) TestKey(ctx context.Context, in TestInput) (TestResult, error) {
	p, ok := LookupProvider(in.ProviderID)
	if !ok {
		return TestResult{}, invalid("providerId", fmt.Sprintf("unknown model provider %q", in.ProviderID))
	}
	base := in.BaseURLOverride
	if base != "" {
		if err := checkBaseURL(base); err != nil {
			return TestResult{}, err
		}
	} else if p.BaseURLRequired {
		return TestResult{}, invalid("baseUrlOverride", "required for provider "+p.ID)
	} else {
		base = p.DefaultBaseURL
	}
	return s.probe(ctx, endpoint{Provider: p, BaseURL: base, APIKey: in.APIKey}, in.ModelID)
}

// TestCredential tests a saved (or system) credential with modelID, or the first model using it, or the
// provider's test model.
func (s *Service) TestCredential(ctx context.Context, orgID, id, modelID string) (TestResult, error) {
	ep, err := s.credentialEndpoint(ctx, s.DB, orgID, id)
	if err != nil {
		return TestResult{}, err
	}
	if modelID == "" {
		modelID = s.firstModelOf(ctx, orgID, id)
	}
	return s.probe(ctx, ep, modelID)
}

func (s *Service) firstModelOf(ctx context.Context, orgID, credentialID string) string {
	for _, m := range s.systemModels() {
		if m.CredentialID == credentialID {
			return m.ModelID
		}
	}
	var id string
	err := s.DB.QueryRowContext(ctx, `SELECT model_id FROM org_models WHERE org_id = ? AND credential_id = ?
		ORDER BY created_at, id LIMIT 1`, orgID, credentialID).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		s.logger().WarnContext(ctx, "models: first model of a credential not read", "error", err)
	}
	return id
}

// TestModel tests a model (org or system).
func (s *Service) TestModel(ctx context.Context, orgID, id string) (TestResult, error) {
	m, err := s.GetModel(ctx, orgID, id)
	if err != nil {
		return TestResult{}, err
	}
	ep, err := s.credentialEndpoint(ctx, s.DB, orgID, m.CredentialID)
	if err != nil {
		return TestResult{}, err
	}
	ep.Provider.APIShape = m.APIShape
	return s.probe(ctx, ep, m.ModelID)
}

// probe sends one tiny request.
func (s *Service) probe(ctx context.Context, ep endpoint, modelID string) (TestResult, error) {
	if modelID == "" {
		modelID = ep.Provider.TestModel
	}
	if modelID == "" {
		return TestResult{}, invalid("modelId", "required: the provider has no default test model")
	}
	timeout := s.TestTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	cfg := llm.Config{BaseURL: ep.BaseURL, APIKey: ep.APIKey}
	if !ep.Trusted {
		cfg.HTTPClient = s.Guard.Client(0)
	}
	client, err := llm.New(wireAPI(ep.Provider.APIShape), cfg)
	if err != nil {
		return TestResult{}, &TestError{Code: llm.CodeProviderError, Detail: "unsupported API shape " + ep.Provider.APIShape, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	_, err = client.Complete(ctx, llm.Request{Model: modelID, Messages: []llm.Message{llm.UserText("ping")}, MaxTokens: 16})
	if err != nil {
		code := llm.ErrorCode(err)
		if code == llm.CodeCanceled {
			code = llm.CodeTimeout
		}
		detail := err.Error()
		if ep.APIKey != "" {
			detail = strings.ReplaceAll(detail, ep.APIKey, "***")
		}
		return TestResult{}, &TestError{Code: code, Detail: detail, Err: err}
	}
	return TestResult{ModelID: modelID, LatencyMs: time.Since(start).Milliseconds()}, nil
}

// --- models ---

const modelColumns = `m.id, m.label, m.model_id, m.credential_id, c.provider_id, m.input, m.context_window, m.max_tokens,
	m.reasoning, m.cost, m.enabled, m.is_default, m.created_at, m.updated_at`

func scanModel(row interface{ Scan(...any) error }) (Model, error) {
	var m Model
	var input string
	var cost sql.NullString
	var cw, mt sql.NullInt64
	if err := row.Scan(&m.ID, &m.Label, &m.ModelID, &m.CredentialID, &m.ProviderID, &input, &cw, &mt, &m.Reasoning, &cost,
		&m.Enabled, &m.IsDefault, &m.CreatedAt, &m.UpdatedAt); err != nil {
		return Model{}, err
	}
	m.ContextWindow, m.MaxTokens, m.Source = int(cw.Int64), int(mt.Int64), SourceOrg
	m.APIShape = providerOf(m.ProviderID).APIShape
	if err := json.Unmarshal([]byte(input), &m.Input); err != nil {
		return Model{}, fmt.Errorf("model %s: input: %w", m.ID, err)
	}
	if m.Input == nil {
		m.Input = []string{}
	}
	if cost.Valid && cost.String != "" && cost.String != "null" {
		m.Cost = &llm.Pricing{}
		if err := json.Unmarshal([]byte(cost.String), m.Cost); err != nil {
			return Model{}, fmt.Errorf("model %s: cost: %w", m.ID, err)
		}
	}
	return m, nil
}

// ListModels returns the system models, then the organization's, with the effective default flagged: the
// enabled org default, else the system default.
func (s *Service) ListModels(ctx context.Context, orgID string) ([]Model, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT `+modelColumns+` FROM org_models m
		JOIN model_provider_credentials c ON c.id = m.credential_id WHERE m.org_id = ? ORDER BY m.created_at, m.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var org []Model
	orgDefault := false
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		if m.IsDefault && m.Enabled {
			orgDefault = true
		}
		org = append(org, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	out := []Model{}
	for _, m := range s.systemModels() {
		if orgDefault {
			m.IsDefault = false
		}
		out = append(out, m.Model)
	}
	return append(out, org...), nil
}

// GetModel returns an org or system model.
func (s *Service) GetModel(ctx context.Context, orgID, id string) (Model, error) {
	list, err := s.ListModels(ctx, orgID)
	if err != nil {
		return Model{}, err
	}
	for _, m := range list {
		if m.ID == id {
			return m, nil
		}
	}
	return Model{}, ErrNotFound
}

func (s *Service) isSystemModel(id string) (Resolved, bool) {
	for _, m := range s.systemModels() {
		if m.ID == id {
			return m, true
		}
	}
	return Resolved{}, false
}

func checkModel(label, modelID string, input []string, cost *llm.Pricing) error {
	if strings.TrimSpace(label) == "" {
		return invalid("label", "must not be blank")
	}
	if strings.TrimSpace(modelID) == "" {
		return invalid("modelId", "must not be blank")
	}
	for _, in := range input {
		if in != "text" && in != "image" {
			return invalid("input", "modalities are text and image")
		}
	}
	if cost != nil && (cost.InputPerMTok < 0 || cost.OutputPerMTok < 0 || cost.CacheReadPerMTok < 0 || cost.CacheWritePerMTok < 0) {
		return invalid("cost", "prices must not be negative")
	}
	return nil
}

func encodeCost(c *llm.Pricing) (any, error) {
	if c == nil {
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func nullInt(n int) any {
	if n <= 0 {
		return nil
	}
	return n
}

// CreateModel adds an org model on a credential of the organization.
func (s *Service) CreateModel(ctx context.Context, orgID string, n NewModel) (Model, error) {
	if len(n.Input) == 0 {
		n.Input = []string{"text"}
	}
	if err := checkModel(n.Label, n.ModelID, n.Input, n.Cost); err != nil {
		return Model{}, err
	}
	if _, ok := s.systemKey(n.CredentialID); ok {
		return Model{}, invalid("credentialId", "system credentials carry only their configured models")
	}
	enabled := n.Enabled == nil || *n.Enabled
	id := ids.UUID()
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.getCredential(ctx, tx, orgID, n.CredentialID); err != nil {
			if errors.Is(err, ErrCredentialNotFound) {
				return invalid("credentialId", "no such credential in this organization")
			}
			return err
		}
		if n.IsDefault {
			if _, err := tx.ExecContext(ctx, `UPDATE org_models SET is_default = ? WHERE org_id = ? AND is_default = ?`,
				false, orgID, true); err != nil {
				return fmt.Errorf("create model: %w", err)
			}
		}
		input, _ := json.Marshal(n.Input)
		cost, err := encodeCost(n.Cost)
		if err != nil {
			return fmt.Errorf("create model: %w", err)
		}
		now := isotime.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO org_models (id, org_id, label, model_id, credential_id, input,
			context_window, max_tokens, reasoning, cost, enabled, is_default, source, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, orgID, n.Label, n.ModelID, n.CredentialID,
			string(input), nullInt(n.ContextWindow), nullInt(n.MaxTokens), n.Reasoning, cost, enabled, n.IsDefault,
			SourceCustom, now, now); err != nil {
			return fmt.Errorf("create model: %w", err)
		}
		return nil
	})
	if err != nil {
		return Model{}, err
	}
	return s.GetModel(ctx, orgID, id)
}

func (s *Service) getOrgModel(ctx context.Context, q store.Querier, orgID, id string) (Model, error) {
	m, err := scanModel(q.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM org_models m
		JOIN model_provider_credentials c ON c.id = m.credential_id WHERE m.id = ? AND m.org_id = ?`, id, orgID))
	if err != nil {
		if errors.Is(store.MapNotFound(err), store.ErrNotFound) {
			return Model{}, ErrNotFound
		}
		return Model{}, fmt.Errorf("get model: %w", err)
	}
	return m, nil
}

// UpdateModel changes an org model.
func (s *Service) UpdateModel(ctx context.Context, orgID, id string, p ModelPatch) (Model, error) {
	if _, ok := s.isSystemModel(id); ok {
		return Model{}, ErrReadOnly
	}
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		m, err := s.getOrgModel(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&m.Label, p.Label)
		set(&m.ModelID, p.ModelID)
		if p.CredentialID != nil && *p.CredentialID != m.CredentialID {
			if _, ok := s.systemKey(*p.CredentialID); ok {
				return invalid("credentialId", "system credentials carry only their configured models")
			}
			if _, err := s.getCredential(ctx, tx, orgID, *p.CredentialID); err != nil {
				if errors.Is(err, ErrCredentialNotFound) {
					return invalid("credentialId", "no such credential in this organization")
				}
				return err
			}
			m.CredentialID = *p.CredentialID
		}
		if p.Input != nil {
			m.Input = p.Input
		}
		if p.ContextWindow != nil {
			m.ContextWindow = *p.ContextWindow
		}
		if p.MaxTokens != nil {
			m.MaxTokens = *p.MaxTokens
		}
		if p.Reasoning != nil {
			m.Reasoning = *p.Reasoning
		}
		if p.Enabled != nil {
			m.Enabled = *p.Enabled
		}
		if p.ClearCost {
			m.Cost = nil
		} else if p.Cost != nil {
			m.Cost = p.Cost
		}
		if err := checkModel(m.Label, m.ModelID, m.Input, m.Cost); err != nil {
			return err
		}
		if p.IsDefault != nil {
			if *p.IsDefault && !m.IsDefault {
				if _, err := tx.ExecContext(ctx, `UPDATE org_models SET is_default = ? WHERE org_id = ? AND is_default = ?`,
					false, orgID, true); err != nil {
					return fmt.Errorf("update model: %w", err)
				}
			}
			m.IsDefault = *p.IsDefault
		}
		input, _ := json.Marshal(m.Input)
		cost, err := encodeCost(m.Cost)
		if err != nil {
			return fmt.Errorf("update model: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE org_models SET label = ?, model_id = ?, credential_id = ?, input = ?,
			context_window = ?, max_tokens = ?, reasoning = ?, cost = ?, enabled = ?, is_default = ?, updated_at = ?
			WHERE id = ? AND org_id = ?`, m.Label, m.ModelID, m.CredentialID, string(input), nullInt(m.ContextWindow),
			nullInt(m.MaxTokens), m.Reasoning, cost, m.Enabled, m.IsDefault, isotime.Now(), id, orgID); err != nil {
			return fmt.Errorf("update model: %w", err)
		}
		return nil
	})
	if err != nil {
		return Model{}, err
	}
	return s.GetModel(ctx, orgID, id)
}

// DeleteModel deletes an org model.
func (s *Service) DeleteModel(ctx context.Context, orgID, id string) error {
	if _, ok := s.isSystemModel(id); ok {
		return ErrReadOnly
	}
	res, err := s.DB.ExecContext(ctx, `DELETE FROM org_models WHERE id = ? AND org_id = ?`, id, orgID)
	if err != nil {
		return fmt.Errorf("delete model: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetDefault makes id the organization's default model. An org model is flagged; a system model is accepted
// only when it is the system default (the org flag is then cleared so that it applies); "" clears the org
// default.
func (s *Service) SetDefault(ctx context.Context, orgID, id string) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if id != "" {
			if m, ok := s.isSystemModel(id); ok {
				if !m.IsDefault {
					return invalid("modelId", "among system models only the system default can be the default")
				}
				id = ""
			} else if _, err := s.getOrgModel(ctx, tx, orgID, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE org_models SET is_default = ? WHERE org_id = ? AND is_default = ?`,
			false, orgID, true); err != nil {
			return fmt.Errorf("set default model: %w", err)
		}
		if id == "" {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE org_models SET is_default = ?, updated_at = ? WHERE id = ? AND org_id = ?`,
			true, isotime.Now(), id, orgID); err != nil {
			return fmt.Errorf("set default model: %w", err)
		}
		return nil
	})
}

// Resolve returns the model id of the organization (org or system) with its endpoint and decrypted key;
// id "" resolves the default (RUNTIME.md §1.3: org default, then system default). A disabled model is
// ErrNotFound.
func (s *Service) Resolve(ctx context.Context, orgID, id string) (Resolved, error) {
	list, err := s.ListModels(ctx, orgID)
	if err != nil {
		return Resolved{}, err
	}
	var m *Model
	for i := range list {
		if (id == "" && list[i].IsDefault) || (id != "" && list[i].ID == id) {
			m = &list[i]
			break
		}
	}
	if m == nil {
		if id == "" {
			return Resolved{}, ErrNoModel
		}
		return Resolved{}, ErrNotFound
	}
	if !m.Enabled {
		return Resolved{}, ErrNotFound
	}
	ep, err := s.credentialEndpoint(ctx, s.DB, orgID, m.CredentialID)
	if err != nil {
		return Resolved{}, err
	}
	return Resolved{Model: *m, BaseURL: ep.BaseURL, APIKey: ep.APIKey, IsSystem: m.Source == SourceSystem}, nil
}
