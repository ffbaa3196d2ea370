package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Errors of the bootstrap token redemption (API.md §2.2, unattended install).
var (
	ErrBootstrapInvalid     = errors.New("auth: invalid bootstrap token")
	ErrBootstrapInProgress  = errors.New("auth: a bootstrap redemption is already in progress")
	ErrBootstrapUserExists  = errors.New("auth: a user with this email already exists")
	ErrBootstrapUnavailable = errors.New("auth: no bootstrap token is available")
)

// bootstrapLockKey is the Postgres advisory lock serialising redemptions across processes.
const bootstrapLockKey = 7246811900000002

// BootstrapRedemption is one redeem request.
type BootstrapRedemption struct {
	Token     string
	Email     string
	Password  string
	Name      string
	IP        string // recorded on the session
	UserAgent string
}

// BootstrapResult is a successful redemption: the owner, its signed-in session and its organization
// (OrgID is "" when no organization could be created).
type BootstrapResult struct {
	User    *User
	Session *Session
	OrgID   string
}

// BootstrapPending reports whether AUTH_BOOTSTRAP_TOKEN is set and not yet redeemed.
func (a *Accounts) BootstrapPending(ctx context.Context) (bool, error) {
	if a.opts.BootstrapToken == "" {
		return false, nil
	}
	redeemed, err := bootstrapRedeemed(ctx, a.db)
	return !redeemed, err
}

func bootstrapRedeemed(ctx context.Context, q store.Querier) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM app_meta WHERE key = ?`, bootstrapRedeemedMetaKey).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth: read bootstrap state: %w", err)
	}
	return true, nil
}

// RedeemBootstrap redeems AUTH_BOOTSTRAP_TOKEN once: it creates the owner (verified, exempt from
// AUTH_DISABLE_SIGNUP but not from AUTH_ALLOWED_SIGNUP_DOMAINS), records the redemption in the same
// transaction, then creates the bootstrap organization and signs the owner in. Errors:
// ErrBootstrapUnavailable, ErrBootstrapInvalid, ErrBootstrapInProgress, ErrBootstrapUserExists,
// ErrInvalidEmail, *PasswordLengthError, *SignupError (domain).
func (a *Accounts) RedeemBootstrap(ctx context.Context, r BootstrapRedemption) (*BootstrapResult, error) {
	if a.opts.BootstrapToken == "" {
		return nil, ErrBootstrapUnavailable
	}
	if redeemed, err := bootstrapRedeemed(ctx, a.db); err != nil {
		return nil, err
	} else if redeemed {
		return nil, ErrBootstrapUnavailable
	}
	if !tokenEqual(r.Token, a.opts.BootstrapToken) {
		return nil, ErrBootstrapInvalid
	}
	email := NormalizeEmail(r.Email)
	if !ValidEmail(email) {
		return nil, ErrInvalidEmail
	}
	if err := CheckPasswordLength(r.Password); err != nil {
		return nil, err
	}
	if !a.opts.Signup.DomainAllowed(email) {
		return nil, errSignupDomain
	}
	if !a.redeemMu.TryLock() {
		return nil, ErrBootstrapInProgress
	}
	defer a.redeemMu.Unlock()
	hash, err := HashPassword(r.Password)
	if err != nil {
		return nil, err
	}
	var u *User
	err = a.db.InTx(ctx, func(tx *store.Tx) error {
		if tx.Dialect() == store.Postgres {
			var locked bool
			if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock(?)`, int64(bootstrapLockKey)).Scan(&locked); err != nil {
				return fmt.Errorf("auth: bootstrap lock: %w", err)
			}
			if !locked {
				return ErrBootstrapInProgress
			}
		}
		if redeemed, err := bootstrapRedeemed(ctx, tx); err != nil {
			return err
		} else if redeemed {
			return ErrBootstrapUnavailable
		}
		var err error
		u, err = a.insertUser(ctx, tx, NewUser{Email: email, Password: r.Password, Name: r.Name, EmailVerified: true, SkipPolicy: true}, hash)
		if errors.Is(err, ErrEmailTaken) {
			return ErrBootstrapUserExists
		}
		if err != nil {
			return err
		}
		digest := sha256.Sum256([]byte(a.opts.BootstrapToken))
		_, err = tx.ExecContext(ctx, `INSERT INTO app_meta (key, value, updated_at) VALUES (?, ?, ?)`,
			bootstrapRedeemedMetaKey, `{"userId":"`+u.ID+`","tokenSha256":"`+hex.EncodeToString(digest[:])+`"}`, isotime.From(a.now()))
		if store.IsUniqueViolation(err) {
			return ErrBootstrapUnavailable
		}
		if err != nil {
			return fmt.Errorf("auth: record bootstrap redemption: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &BootstrapResult{User: u}
	if a.CreateBootstrapOrg != nil {
		if err := a.CreateBootstrapOrg(ctx, u.ID, a.opts.BootstrapOrgName); err != nil {
			a.log.Error("create bootstrap organization", "userId", u.ID, "error", err)
		} else if res.OrgID, err = a.ownedOrg(ctx, u.ID); err != nil {
			a.log.Warn("find bootstrap organization", "userId", u.ID, "error", err)
		}
	}
	if res.Session, err = a.StartSession(ctx, u.ID, r.IP, r.UserAgent); err != nil {
		return nil, err
	}
	return res, nil
}

// ownedOrg returns the first organization userID owns, or "".
func (a *Accounts) ownedOrg(ctx context.Context, userID string) (string, error) {
	var orgID string
	err := a.db.QueryRowContext(ctx, `SELECT org_id FROM org_members WHERE user_id = ? AND role = 'owner' ORDER BY joined_at LIMIT 1`, userID).Scan(&orgID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return orgID, err
}

// tokenEqual compares secrets in constant time (hashing first hides the length of the expected value).
func tokenEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
