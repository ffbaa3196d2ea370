package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Errors of account creation and sign-in.
var (
	ErrEmailTaken          = errors.New("auth: a user with this email already exists")
	ErrInvalidEmail        = errors.New("auth: invalid email")
	ErrInvalidCredentials  = errors.New("auth: invalid email or password")
	ErrEmailNotVerified    = errors.New("auth: email not verified")
	ErrInvalidPassword     = errors.New("auth: invalid password")
	ErrNoCredentialAccount = errors.New("auth: the user has no password")
	ErrUserNotFound        = fmt.Errorf("auth: user %w", store.ErrNotFound)
)

// RealmPlatform is the realm of dashboard users.
const RealmPlatform = "platform"

// User is a row of users, shaped as Better Auth returns it.
type User struct {
	ID            string       `json:"id"`
	Email         string       `json:"email"`
	Name          string       `json:"name"`
	Image         *string      `json:"image"`
	EmailVerified bool         `json:"emailVerified"`
	CreatedAt     isotime.Time `json:"createdAt"`
	UpdatedAt     isotime.Time `json:"updatedAt"`
	Realm         string       `json:"-"`
}

// NewUser describes a user to create with an email and a password.
type NewUser struct {
	Email         string
	Password      string
	Name          string
	Image         string // optional avatar URL
	EmailVerified bool
	Realm         string // "" = platform
	// SkipPolicy creates the user even when the signup policy would refuse it (invitations, bootstrap).
	SkipPolicy bool
}

// emailPattern is the address check of Zod's z.email(), which Better Auth applies.
var emailPattern = regexp.MustCompile(`^[A-Za-z0-9_'+\-\.]*[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$`)

// NormalizeEmail lower-cases and trims an address as Better Auth stores it.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidEmail reports whether email passes Better Auth's validation.
func ValidEmail(email string) bool {
	return len(email) <= 320 && !strings.HasPrefix(email, ".") && !strings.Contains(email, "..") && emailPattern.MatchString(email)
}

const userColumns = `id, email, name, image, email_verified, realm, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var image sql.NullString
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &image, &u.EmailVerified, &u.Realm, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	if image.Valid {
		u.Image = &image.String
	}
	return &u, nil
}

// UserByEmail returns the user with this address (case-insensitive); ErrUserNotFound when there is none.
func (a *Accounts) UserByEmail(ctx context.Context, email string) (*User, error) {
	return userByEmail(ctx, a.db, email)
}

func userByEmail(ctx context.Context, q store.Querier, email string) (*User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, NormalizeEmail(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("auth: user by email: %w", err)
	}
	return u, nil
}

// UserByID returns the user with this id; ErrUserNotFound when there is none.
func (a *Accounts) UserByID(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(a.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("auth: user by id: %w", err)
	}
	return u, nil
}

// CreateUserWithPassword creates a user, its credential account (scrypt hash) and its profile, after the
// signup policy (unless SkipPolicy). Errors: ErrInvalidEmail, *PasswordLengthError, *SignupError,
// ErrEmailTaken. When q is the database itself the rows are written in one transaction and, if the address
// is AUTH_BOOTSTRAP_OWNER_EMAIL, the bootstrap organization is created afterwards; inside a caller's
// transaction (q is a *store.Tx) no organization is created.
func (a *Accounts) CreateUserWithPassword(ctx context.Context, q store.Querier, nu NewUser) (*User, error) {
	nu.Email = NormalizeEmail(nu.Email)
	if !ValidEmail(nu.Email) {
		return nil, ErrInvalidEmail
	}
	if err := CheckPasswordLength(nu.Password); err != nil {
		return nil, err
	}
	// Better Auth reports a taken address before its user-creation hooks (the signup gate) run.
	if _, err := userByEmail(ctx, q, nu.Email); err == nil {
		return nil, ErrEmailTaken
	} else if !errors.Is(err, ErrUserNotFound) {
		return nil, err
	}
	if !nu.SkipPolicy {
		if err := a.CheckSignup(ctx, nu.Email); err != nil {
			return nil, err
		}
	}
	hash, err := HashPassword(nu.Password) // slow: done before any transaction starts
	if err != nil {
		return nil, err
	}
	var u *User
	db, own := q.(*store.DB)
	if own {
		err = db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			u, err = a.insertUser(ctx, tx, nu, hash)
			return err
		})
	} else {
		u, err = a.insertUser(ctx, q, nu, hash)
	}
	if err != nil {
		return nil, err
	}
	if own {
		a.afterUserCreated(ctx, u)
	}
	return u, nil
}

// SignUp is CreateUserWithPassword on the service's own database (with the bootstrap organization hook).
func (a *Accounts) SignUp(ctx context.Context, nu NewUser) (*User, error) {
	return a.CreateUserWithPassword(ctx, a.db, nu)
}

// insertUser writes the user, its credential account and its profile.
func (a *Accounts) insertUser(ctx context.Context, q store.Querier, nu NewUser, passwordHash string) (*User, error) {
	var exists int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM users WHERE email = ?`, nu.Email).Scan(&exists)
	switch {
	case err == nil:
		return nil, ErrEmailTaken
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("auth: check email: %w", err)
	}
	now := isotime.From(a.now())
	u := &User{ID: GenerateID(32), Email: nu.Email, Name: nu.Name, EmailVerified: nu.EmailVerified,
		Realm: nu.Realm, CreatedAt: now, UpdatedAt: now}
	if u.Realm == "" {
		u.Realm = RealmPlatform
	}
	var image any
	if nu.Image != "" {
		u.Image = &nu.Image
		image = nu.Image
	}
	_, err = q.ExecContext(ctx, `INSERT INTO users (id, name, email, email_verified, image, realm, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, u.Name, u.Email, u.EmailVerified, image, u.Realm, now, now)
	if store.IsUniqueViolation(err) {
		return nil, ErrEmailTaken
	}
	if err != nil {
		return nil, fmt.Errorf("auth: insert user: %w", err)
	}
	if err := insertCredentialAccount(ctx, q, u.ID, passwordHash, now); err != nil {
		return nil, err
	}
	display := u.Name
	if display == "" {
		display = u.Email
	}
	_, err = q.ExecContext(ctx, `INSERT INTO profiles (id, display_name, language, created_at, updated_at) VALUES (?, ?, 'fr', ?, ?)`,
		u.ID, display, now, now)
	if err != nil {
		return nil, fmt.Errorf("auth: insert profile: %w", err)
	}
	return u, nil
}

func insertCredentialAccount(ctx context.Context, q store.Querier, userID, hash string, now isotime.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO accounts (id, account_id, provider_id, user_id, password, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, GenerateID(32), userID, credentialProviderID, userID, hash, now, now)
	if err != nil {
		return fmt.Errorf("auth: insert credential account: %w", err)
	}
	return nil
}

// afterUserCreated runs the post-creation hook: the bootstrap owner gets the first organization.
func (a *Accounts) afterUserCreated(ctx context.Context, u *User) {
	owner := a.opts.Signup.BootstrapOwnerEmail
	if owner == "" || u.Email != NormalizeEmail(owner) || a.CreateBootstrapOrg == nil {
		return
	}
	if err := a.CreateBootstrapOrg(ctx, u.ID, a.opts.BootstrapOrgName); err != nil {
		a.log.Error("create bootstrap organization", "userId", u.ID, "error", err)
	}
}

// passwordHash returns the credential account's hash of userID.
func passwordHash(ctx context.Context, q store.Querier, userID string) (string, error) {
	var hash sql.NullString
	err := q.QueryRowContext(ctx, `SELECT password FROM accounts WHERE user_id = ? AND provider_id = ?`,
		userID, credentialProviderID).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !hash.Valid) {
		return "", ErrNoCredentialAccount
	}
	if err != nil {
		return "", fmt.Errorf("auth: read credential account: %w", err)
	}
	return hash.String, nil
}

// VerifyPassword checks userID's password: nil, ErrInvalidPassword or ErrNoCredentialAccount.
func (a *Accounts) VerifyPassword(ctx context.Context, userID, password string) error {
	hash, err := passwordHash(ctx, a.db, userID)
	if err != nil {
		return err
	}
	ok, err := CheckPasswordHash(hash, password)
	if err != nil {
		return fmt.Errorf("auth: verify password of %s: %w", userID, err)
	}
	if !ok {
		return ErrInvalidPassword
	}
	return nil
}

// SignInWithPassword checks an email and password: ErrInvalidCredentials (unknown address, no password,
// wrong password: indistinguishable) or ErrEmailNotVerified when verification is required.
func (a *Accounts) SignInWithPassword(ctx context.Context, email, password string) (*User, error) {
	u, err := a.UserByEmail(ctx, email)
	if errors.Is(err, ErrUserNotFound) {
		_, _ = HashPassword(password) // same work as a real check: no user enumeration by timing
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	switch err := a.VerifyPassword(ctx, u.ID, password); {
	case errors.Is(err, ErrNoCredentialAccount):
		_, _ = HashPassword(password)
		return nil, ErrInvalidCredentials
	case errors.Is(err, ErrInvalidPassword):
		return nil, ErrInvalidCredentials
	case err != nil:
		return nil, err
	}
	if a.RequireEmailVerification() && !u.EmailVerified {
		return u, ErrEmailNotVerified
	}
	return u, nil
}

// SetPassword replaces userID's password (creating the credential account when the user had none).
func (a *Accounts) SetPassword(ctx context.Context, q store.Querier, userID, password string) error {
	if err := CheckPasswordLength(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return a.setPasswordHash(ctx, q, userID, hash)
}

func (a *Accounts) setPasswordHash(ctx context.Context, q store.Querier, userID, hash string) error {
	now := isotime.From(a.now())
	res, err := q.ExecContext(ctx, `UPDATE accounts SET password = ?, updated_at = ? WHERE user_id = ? AND provider_id = ?`,
		hash, now, userID, credentialProviderID)
	if err != nil {
		return fmt.Errorf("auth: update password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return insertCredentialAccount(ctx, q, userID, hash, now)
	}
	return nil
}
