package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/mail"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Errors of the email verification and password reset flows.
var (
	ErrInvalidToken         = errors.New("auth: invalid or expired token")
	ErrMailDisabled         = errors.New("auth: email is not configured")
	ErrEmailAlreadyVerified = errors.New("auth: email already verified")
)

// createVerification stores a one-time token under prefix+token with value, valid for ttl.
func (a *Accounts) createVerification(ctx context.Context, q store.Querier, prefix, value string, ttl time.Duration) (string, error) {
	token := GenerateID(32)
	now := isotime.From(a.now())
	_, err := q.ExecContext(ctx, `INSERT INTO verifications (id, identifier, value, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		GenerateID(32), prefix+token, value, isotime.From(now.Add(ttl)), now, now)
	if err != nil {
		return "", fmt.Errorf("auth: store verification token: %w", err)
	}
	return token, nil
}

// consumeVerification deletes the token row and returns its value; ErrInvalidToken when it does not exist
// or has expired.
func (a *Accounts) consumeVerification(ctx context.Context, q store.Querier, prefix, token string) (string, error) {
	if !validToken(token) {
		return "", ErrInvalidToken
	}
	var id, value string
	var expires isotime.Time
	err := q.QueryRowContext(ctx, `SELECT id, value, expires_at FROM verifications WHERE identifier = ?`, prefix+token).
		Scan(&id, &value, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrInvalidToken
	}
	if err != nil {
		return "", fmt.Errorf("auth: read verification token: %w", err)
	}
	res, err := q.ExecContext(ctx, `DELETE FROM verifications WHERE id = ?`, id)
	if err != nil {
		return "", fmt.Errorf("auth: consume verification token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 || !a.now().Before(expires.Time) {
		return "", ErrInvalidToken // consumed concurrently, or expired
	}
	return value, nil
}

// profileLanguage is the user's preferred mail language (fr by default).
func (a *Accounts) profileLanguage(ctx context.Context, userID string) string {
	var lang string
	if err := a.db.QueryRowContext(ctx, `SELECT language FROM profiles WHERE id = ?`, userID).Scan(&lang); err != nil {
		return mail.LangFR
	}
	return lang
}

// SendVerificationEmail mails u a link that verifies the address and signs in: <APP_URL>/api/auth/verify-email
// ?token=…&callbackURL=… (callbackURL must have been checked with IsTrustedURL).
func (a *Accounts) SendVerificationEmail(ctx context.Context, u *User, callbackURL string) error {
	if a.opts.Mailer == nil {
		return ErrMailDisabled
	}
	token, err := a.createVerification(ctx, a.db, verificationPrefix, u.Email, VerificationTokenTTL)
	if err != nil {
		return err
	}
	if callbackURL == "" {
		callbackURL = "/"
	}
	link := strings.TrimRight(a.opts.AppURL, "/") + "/api/auth/verify-email?token=" + token +
		"&callbackURL=" + url.QueryEscape(callbackURL)
	msg, err := mail.VerificationEmail(a.profileLanguage(ctx, u.ID), u.Email, mail.LinkData{Name: u.Name, URL: link})
	if err != nil {
		return fmt.Errorf("auth: render verification mail: %w", err)
	}
	if err := a.opts.Mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("auth: send verification mail: %w", err)
	}
	return nil
}

// RequestVerificationEmail sends a new verification link to email when it belongs to an unverified user;
// unknown and already verified addresses are silently ignored (no account enumeration).
func (a *Accounts) RequestVerificationEmail(ctx context.Context, email, callbackURL string) error {
	if a.opts.Mailer == nil {
		return ErrMailDisabled
	}
	u, err := a.UserByEmail(ctx, email)
	if errors.Is(err, ErrUserNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.EmailVerified {
		return nil
	}
	return a.SendVerificationEmail(ctx, u, callbackURL)
}

// VerifyEmail consumes a verification token and marks the address verified; ErrInvalidToken otherwise.
func (a *Accounts) VerifyEmail(ctx context.Context, token string) (*User, error) {
	var email string
	err := a.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if email, err = a.consumeVerification(ctx, tx, verificationPrefix, token); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET email_verified = ?, updated_at = ? WHERE email = ?`,
			true, isotime.From(a.now()), email)
		if err != nil {
			return fmt.Errorf("auth: mark email verified: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrInvalidToken // the user was deleted since
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.UserByEmail(ctx, email)
}

// RequestPasswordReset mails a reset link (1 h) to email when it belongs to a user; unknown addresses are
// silently ignored. The link is redirectTo (a checked, trusted URL) or <APP_URL>/reset-password, with the
// token in its `token` query parameter.
func (a *Accounts) RequestPasswordReset(ctx context.Context, email, redirectTo string) error {
	if a.opts.Mailer == nil {
		return ErrMailDisabled
	}
	u, err := a.UserByEmail(ctx, email)
	if errors.Is(err, ErrUserNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	token, err := a.createVerification(ctx, a.db, passwordResetPrefix, u.ID, PasswordResetTokenTTL)
	if err != nil {
		return err
	}
	base := strings.TrimRight(a.opts.AppURL, "/") + "/reset-password"
	if redirectTo != "" {
		base = a.AbsoluteURL(redirectTo)
	}
	link, err := withQuery(base, "token", token)
	if err != nil {
		return fmt.Errorf("auth: build reset link: %w", err)
	}
	msg, err := mail.PasswordResetEmail(a.profileLanguage(ctx, u.ID), u.Email, mail.LinkData{Name: u.Name, URL: link})
	if err != nil {
		return fmt.Errorf("auth: render reset mail: %w", err)
	}
	if err := a.opts.Mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("auth: send reset mail: %w", err)
	}
	return nil
}

func withQuery(base, key, value string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ResetPassword sets a new password with a reset token and ends every session of the user.
// Errors: *PasswordLengthError, ErrInvalidToken.
func (a *Accounts) ResetPassword(ctx context.Context, token, newPassword string) error {
	if err := CheckPasswordLength(newPassword); err != nil {
		return err
	}
	hash, err := HashPassword(newPassword)
	if err != nil {
		return err
	}
	return a.db.InTx(ctx, func(tx *store.Tx) error {
		userID, err := a.consumeVerification(ctx, tx, passwordResetPrefix, token)
		if err != nil {
			return err
		}
		if err := a.setPasswordHash(ctx, tx, userID, hash); err != nil {
			return err
		}
		return a.RevokeSessions(ctx, tx, userID, "")
	})
}

// ChangePassword replaces a signed-in user's password after checking the current one. With revokeOthers
// every other session of the user ends. Errors: *PasswordLengthError, ErrInvalidPassword,
// ErrNoCredentialAccount.
func (a *Accounts) ChangePassword(ctx context.Context, userID, sessionID, current, newPassword string, revokeOthers bool) error {
	if err := CheckPasswordLength(newPassword); err != nil {
		return err
	}
	if err := a.VerifyPassword(ctx, userID, current); err != nil {
		return err
	}
	hash, err := HashPassword(newPassword)
	if err != nil {
		return err
	}
	return a.db.InTx(ctx, func(tx *store.Tx) error {
		if err := a.setPasswordHash(ctx, tx, userID, hash); err != nil {
			return err
		}
		if revokeOthers {
			return a.RevokeSessions(ctx, tx, userID, sessionID)
		}
		return nil
	})
}
