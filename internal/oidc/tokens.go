package oidc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// AccessClaims are the claims of an access JWT (API.md §2.3).
type AccessClaims struct {
	jwt.RegisteredClaims
	AuthorizedParty string `json:"azp"`
	ActorType       string `json:"actor_type"`
	Email           string `json:"email"`
	EmailVerified   bool   `json:"email_verified"`
	Name            string `json:"name"`
	CLIFamilyID     string `json:"cli_family_id,omitempty"`
	Scope           string `json:"scope,omitempty"`
}

// tokenSubject is who an access token is issued to.
type tokenSubject struct {
	userID, email, name string
	emailVerified       bool
	client              *Client
	familyID, scope     string
}

// signAccessToken issues the ES256 access JWT of sub (15 minutes).
func (s *Service) signAccessToken(ctx context.Context, sub tokenSubject) (string, error) {
	key, err := s.signingKey(ctx)
	if err != nil {
		return "", err
	}
	now := s.now().Unix()
	claims := jwt.MapClaims{
		"iss":            s.Issuer(),
		"aud":            s.Issuer(), // a plain string, as Better Auth's jwt plugin writes it
		"sub":            sub.userID,
		"iat":            now,
		"exp":            now + int64(AccessTokenTTL.Seconds()),
		"jti":            randomHex(16),
		"azp":            sub.client.ClientID,
		"actor_type":     sub.client.actorType(),
		"email":          sub.email,
		"email_verified": sub.emailVerified,
		"name":           sub.name,
	}
	if sub.familyID != "" {
		claims["cli_family_id"] = sub.familyID
	}
	if sub.scope != "" {
		claims["scope"] = sub.scope
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = key.kid
	signed, err := tok.SignedString(key.priv)
	if err != nil {
		return "", wrap("sign access token", err)
	}
	return signed, nil
}

// VerifyAccessToken checks an access JWT: ES256 with a published key, iss <APP_URL>/api/auth, aud APP_URL or
// <APP_URL>/api/auth, not expired. It does not look at the client or the CLI family (Authenticate does).
// Any failure is ErrInvalidAccessToken (wrapped with the reason) unless the keys could not be read.
func (s *Service) VerifyAccessToken(ctx context.Context, raw string) (*AccessClaims, error) {
	if len(raw) > 8192 {
		return nil, fmt.Errorf("%w: too long", ErrInvalidAccessToken)
	}
	var keyErr error
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}), jwt.WithIssuer(s.Issuer()),
		jwt.WithAudience(s.appURL, s.Issuer()), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now))
	claims := &AccessClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" || len(kid) > 128 {
			return nil, errors.New("missing kid")
		}
		k, err := s.verificationKey(ctx, kid)
		if err != nil && !errors.Is(err, ErrInvalidAccessToken) {
			keyErr = err
		}
		return k, err
	})
	if keyErr != nil {
		return nil, keyErr
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidAccessToken, err)
	}
	if claims.Subject == "" || strings.TrimSpace(claims.AuthorizedParty) == "" {
		return nil, fmt.Errorf("%w: missing sub or azp", ErrInvalidAccessToken)
	}
	return claims, nil
}
