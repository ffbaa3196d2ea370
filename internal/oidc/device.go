package oidc

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Device authorization statuses (device_codes.status).
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusDenied   = "denied"
)

// DeviceAuthorization is the answer of POST /api/auth/device/code.
type DeviceAuthorization struct {
	DeviceCode              string
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	ExpiresIn               int // seconds
	Interval                int // seconds
}

// RequestDeviceCode starts a device authorization for clientID (which must be an enabled public client
// allowed the device-code grant). scope is intersected with the client's scopes (empty = all of them).
func (s *Service) RequestDeviceCode(ctx context.Context, clientID, scope string) (*DeviceAuthorization, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	c, err := s.publicClient(ctx, clientID, GrantDeviceCode)
	if err != nil {
		return nil, err
	}
	if _, err := s.DeleteExpiredDeviceCodes(ctx); err != nil { // housekeeping: abandoned logins
		s.log.Warn("oidc: delete expired device codes", "error", err)
	}
	now := s.now()
	deviceCode := randomToken(tokenBytes)
	for attempt := 0; ; attempt++ {
		userCode := NewUserCode()
		_, err := s.db.ExecContext(ctx, `INSERT INTO device_codes (id, device_code, user_code, client_id, scope, status,
			expires_at, polling_interval, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
			ids.UUID(), hashToken(deviceCode), userCode, c.ClientID, c.grantScopes(scope), StatusPending,
			isotime.From(now.Add(DeviceCodeTTL)), PollingInterval.Milliseconds(), isotime.From(now), isotime.From(now))
		if store.IsUniqueViolation(err) && attempt < 5 {
			continue // a live code already uses these 8 letters: draw again
		}
		if err != nil {
			return nil, wrap("store device code", err)
		}
		return &DeviceAuthorization{
			DeviceCode:              deviceCode,
			UserCode:                userCode,
			VerificationURI:         s.VerificationURI(),
			VerificationURIComplete: s.VerificationURI() + "?user_code=" + url.QueryEscape(userCode),
			ExpiresIn:               int(DeviceCodeTTL.Seconds()),
			Interval:                int(PollingInterval.Seconds()),
		}, nil
	}
}

// PendingDevice is what the approval page shows about a user code.
type PendingDevice struct {
	UserCode   string // normalized (8 letters)
	ClientID   string
	ClientName string
	Scopes     []string
	ExpiresAt  time.Time
}

// deviceRow is a row of device_codes.
type deviceRow struct {
	id, clientID, scope, status, userID string
	expiresAt, lastPolledAt             isotime.Time
	pollingInterval                     int64
	attempts                            int
}

const deviceColumns = `id, client_id, scope, status, COALESCE(user_id, ''), expires_at, last_polled_at, polling_interval, attempts`

func scanDevice(row interface{ Scan(...any) error }) (*deviceRow, error) {
	d := &deviceRow{}
	err := row.Scan(&d.id, &d.clientID, &d.scope, &d.status, &d.userID, &d.expiresAt, &d.lastPolledAt, &d.pollingInterval, &d.attempts)
	return d, err
}

// deviceByUserCode reads the authorization of a typed user code (normalized here): ErrUnknownUserCode.
func (s *Service) deviceByUserCode(ctx context.Context, q store.Querier, input string) (*deviceRow, error) {
	code, ok := NormalizeUserCode(input)
	if !ok {
		return nil, ErrUnknownUserCode
	}
	d, err := scanDevice(q.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM device_codes WHERE user_code = ?`, code))
	if isNoRows(err) {
		return nil, ErrUnknownUserCode
	}
	if err != nil {
		return nil, wrap("read device code", err)
	}
	return d, nil
}

// PendingDevice describes the pending authorization of a user code for the approval page: ErrUnknownUserCode,
// ErrDeviceCodeExpired, ErrDeviceCodeHandled or ErrDeviceCodeLocked otherwise.
func (s *Service) PendingDevice(ctx context.Context, userCode string) (*PendingDevice, error) {
	d, err := s.deviceByUserCode(ctx, s.db, userCode)
	if err != nil {
		return nil, err
	}
	if err := s.checkPending(d); err != nil {
		return nil, err
	}
	c, err := s.client(ctx, s.db, d.clientID)
	if err != nil {
		return nil, wrap("read the client of a device code", err)
	}
	code, _ := NormalizeUserCode(userCode)
	return &PendingDevice{UserCode: code, ClientID: c.ClientID, ClientName: c.Name, Scopes: strings.Fields(d.scope),
		ExpiresAt: d.expiresAt.Time}, nil
}

func (s *Service) checkPending(d *deviceRow) error {
	switch {
	case !s.now().Before(d.expiresAt.Time):
		return ErrDeviceCodeExpired
	case d.attempts >= MaxApprovalFailures:
		return ErrDeviceCodeLocked
	case d.status != StatusPending:
		return ErrDeviceCodeHandled
	}
	return nil
}

// Approver is the signed-in user answering a device authorization.
type Approver struct {
	UserID string
	Realm  string // users.realm; must match the client's audience (platform for instance clients)
}

// ApproveDevice approves the pending authorization of userCode for approver. A realm that does not match
// the client counts as a failed attempt (5 lock the code).
func (s *Service) ApproveDevice(ctx context.Context, userCode string, approver Approver) error {
	return s.answerDevice(ctx, userCode, approver, StatusApproved)
}

// DenyDevice denies the pending authorization of userCode; the CLI then gets access_denied.
func (s *Service) DenyDevice(ctx context.Context, userCode string, approver Approver) error {
	return s.answerDevice(ctx, userCode, approver, StatusDenied)
}

func (s *Service) answerDevice(ctx context.Context, userCode string, approver Approver, status string) error {
	var failed bool
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		d, err := s.deviceByUserCode(ctx, tx, userCode)
		if err != nil {
			return err
		}
		if err := s.checkPending(d); err != nil {
			return err
		}
		c, err := s.client(ctx, tx, d.clientID)
		if err != nil {
			return wrap("read the client of a device code", err)
		}
		if !realmMatches(c, approver.Realm) {
			failed = true
			return ErrRealmMismatch
		}
		now := isotime.From(s.now())
		res, err := tx.ExecContext(ctx, `UPDATE device_codes SET status = ?, user_id = ?, updated_at = ?
			WHERE id = ? AND status = ?`, status, approver.UserID, now, d.id, StatusPending)
		if err != nil {
			return wrap("answer device code", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrDeviceCodeHandled
		}
		return nil
	})
	if failed {
		s.RecordApprovalFailure(ctx, userCode)
	}
	return err
}

// realmMatches is the realm guard of the approval: instance clients serve platform users only.
func realmMatches(c *Client, realm string) bool {
	switch c.Level {
	case LevelInstance, LevelOrg:
		return realm == "" || realm == auth.RealmPlatform
	}
	return strings.HasPrefix(realm, "end_user:")
}

// RecordApprovalFailure counts a failed approval attempt on userCode (bad CSRF token, wrong realm); the
// fifth locks the code. Unknown codes are ignored; errors are logged.
func (s *Service) RecordApprovalFailure(ctx context.Context, userCode string) {
	code, ok := NormalizeUserCode(userCode)
	if !ok {
		return
	}
	_, err := s.db.ExecContext(ctx, `UPDATE device_codes SET attempts = attempts + 1, updated_at = ? WHERE user_code = ?`,
		isotime.From(s.now()), code)
	if err != nil {
		s.log.Warn("oidc: count a failed approval", "error", err)
	}
}

// DeleteExpiredDeviceCodes removes authorizations that expired over a minute ago (a CLI polling one just
// after it expired still gets expired_token); it returns how many.
func (s *Service) DeleteExpiredDeviceCodes(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM device_codes WHERE expires_at < ?`, isotime.From(s.now().Add(-time.Minute)))
	if err != nil {
		return 0, wrap("delete expired device codes", err)
	}
	return res.RowsAffected()
}

// ClientInfo is what the token endpoint records about the caller on the CLI session.
type ClientInfo struct {
	IP         string
	UserAgent  string
	DeviceName string // X-Appstrate-Device-Name
}

// TokenSet is a successful token response.
type TokenSet struct {
	AccessToken      string
	RefreshToken     string
	ExpiresIn        int // seconds
	RefreshExpiresIn int // seconds
	Scope            string
	FamilyID         string
}

// ExchangeDeviceCode is the device-code grant: authorization_pending until the user answers, slow_down when
// polled faster than the interval, expired_token / access_denied (row deleted), then tokens once (the code is
// deleted on exchange).
func (s *Service) ExchangeDeviceCode(ctx context.Context, clientID, deviceCode string, ci ClientInfo) (*TokenSet, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	c, err := s.publicClient(ctx, clientID, GrantDeviceCode)
	if err != nil {
		return nil, err
	}
	if deviceCode == "" {
		return nil, oauthError(CodeInvalidRequest, "Missing device_code.")
	}
	if len(deviceCode) > maxTokenInput {
		return nil, oauthError(CodeInvalidGrant, "Invalid device code.")
	}
	var userID, scope string
	var rejection *Error // committed with the transaction: poll times and deletions stick
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		rejection = nil
		d, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM device_codes WHERE device_code = ?`,
			hashToken(deviceCode)))
		if isNoRows(err) {
			rejection = oauthError(CodeInvalidGrant, "Invalid device code.")
			return nil
		}
		if err != nil {
			return wrap("read device code", err)
		}
		userID, scope = d.userID, d.scope
		rejection, err = s.pollDevice(ctx, tx, d, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	if rejection != nil {
		return nil, rejection
	}
	return s.startFamily(ctx, c, userID, scope, ci)
}

// pollDevice applies one poll to d inside tx: the RFC 8628 answer, or nil when the code is exchanged (deleted).
func (s *Service) pollDevice(ctx context.Context, tx *store.Tx, d *deviceRow, c *Client) (*Error, error) {
	if d.clientID != c.ClientID {
		return oauthError(CodeInvalidGrant, "The device code was issued to another client."), nil
	}
	now := s.now()
	deleteRow := func(rejection *Error) (*Error, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM device_codes WHERE id = ?`, d.id)
		if err != nil {
			return nil, wrap("delete device code", err)
		}
		if n, _ := res.RowsAffected(); n != 1 { // a concurrent poll got there first
			return oauthError(CodeInvalidGrant, "Invalid device code."), nil
		}
		return rejection, nil
	}
	switch {
	case !now.Before(d.expiresAt.Time):
		return deleteRow(oauthError(CodeExpiredToken, "The device code has expired."))
	case d.attempts >= MaxApprovalFailures:
		return deleteRow(oauthError(CodeAccessDenied, "Too many failed approval attempts on this code."))
	case !d.lastPolledAt.IsZero() && now.Sub(d.lastPolledAt.Time) < time.Duration(d.pollingInterval)*time.Millisecond:
		return oauthError(CodeSlowDown, "Polling too fast; wait longer between requests."), nil
	}
	switch d.status {
	case StatusDenied:
		return deleteRow(oauthError(CodeAccessDenied, "The user denied the request."))
	case StatusPending:
		if _, err := tx.ExecContext(ctx, `UPDATE device_codes SET last_polled_at = ?, updated_at = ? WHERE id = ?`,
			isotime.From(now), isotime.From(now), d.id); err != nil {
			return nil, wrap("record device poll", err)
		}
		return oauthError(CodeAuthorizationPending, "The user has not approved the request yet."), nil
	}
	if d.userID == "" {
		return deleteRow(oauthError(CodeInvalidGrant, "Invalid device code."))
	}
	return deleteRow(nil) // approved: single use
}
