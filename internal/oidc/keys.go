package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// JWK is one public key of the JWK set (RFC 7517): always EC P-256 for ES256 here.
type JWK struct {
	Kty string `json:"kty" enum:"EC"`
	Crv string `json:"crv" enum:"P-256"`
	X   string `json:"x" doc:"base64url of the 32-byte X coordinate"`
	Y   string `json:"y" doc:"base64url of the 32-byte Y coordinate"`
	Kid string `json:"kid" doc:"Key id: the kid header of the tokens it verifies"`
	Alg string `json:"alg" enum:"ES256"`
	Use string `json:"use" enum:"sig"`
}

// JWKSet is the document of GET /api/auth/jwks.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// keyCache holds the signing key and the verification keys (refreshed every 5 minutes, and on an unknown kid).
type keyCache struct {
	mu        sync.Mutex
	signing   *signingKey
	public    map[string]*ecdsa.PublicKey
	jwks      []JWK
	fetchedAt time.Time
}

type signingKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

// publicJWK describes pub as a JWK with kid.
func publicJWK(kid string, pub *ecdsa.PublicKey) (JWK, error) {
	raw, err := pub.Bytes() // uncompressed point: 0x04 ‖ X ‖ Y
	if err != nil {
		return JWK{}, err
	}
	return JWK{Kty: "EC", Crv: "P-256", Kid: kid, Alg: "ES256", Use: "sig",
		X: base64.RawURLEncoding.EncodeToString(raw[1:33]), Y: base64.RawURLEncoding.EncodeToString(raw[33:65])}, nil
}

// PublicKey parses an EC P-256 JWK.
func (k JWK) PublicKey() (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" {
		return nil, fmt.Errorf("oidc: unsupported JWK %s/%s", k.Kty, k.Crv)
	}
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("oidc: malformed JWK coordinates")
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
}

// signingKey returns the newest unexpired key with its private half, creating one when there is none.
func (s *Service) signingKey(ctx context.Context) (*signingKey, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if s.keys.signing != nil {
		return s.keys.signing, nil
	}
	var kid, envelope string
	err := s.db.QueryRowContext(ctx, `SELECT id, private_key FROM jwks WHERE expires_at IS NULL OR expires_at > ?
		ORDER BY created_at DESC, id DESC LIMIT 1`, isotime.From(s.now())).Scan(&kid, &envelope)
	switch {
	case err == nil:
		if s.keyring == nil {
			return nil, ErrNoKeyring
		}
		der, err := s.keyring.Decrypt(envelope)
		if err != nil {
			return nil, wrap("decrypt signing key "+kid, err)
		}
		priv, err := parsePrivateKey(der)
		if err != nil {
			return nil, wrap("parse signing key "+kid, err)
		}
		s.keys.signing = &signingKey{kid: kid, priv: priv}
		return s.keys.signing, nil
	case !isNoRows(err):
		return nil, wrap("read signing key", err)
	}
	key, err := s.createKey(ctx)
	if err != nil {
		return nil, err
	}
	s.keys.signing = key
	s.keys.fetchedAt = time.Time{} // the public set changed
	return key, nil
}

// createKey generates a P-256 key and stores it (private half encrypted).
func (s *Service) createKey(ctx context.Context) (*signingKey, error) {
	if s.keyring == nil {
		return nil, ErrNoKeyring
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, wrap("generate signing key", err)
	}
	kid := ids.UUID()
	jwk, err := publicJWK(kid, &priv.PublicKey)
	if err != nil {
		return nil, wrap("encode public key", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, wrap("encode signing key", err)
	}
	envelope, err := s.keyring.Encrypt(der)
	if err != nil {
		return nil, wrap("encrypt signing key", err)
	}
	pub, _ := json.Marshal(jwk)
	_, err = s.db.ExecContext(ctx, `INSERT INTO jwks (id, public_key, private_key, created_at) VALUES (?, ?, ?, ?)`,
		kid, string(pub), envelope, isotime.From(s.now()))
	if err != nil {
		return nil, wrap("store signing key", err)
	}
	s.log.Info("oidc: created a signing key", "kid", kid)
	return &signingKey{kid: kid, priv: priv}, nil
}

func parsePrivateKey(der []byte) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, errors.New("not an EC P-256 key")
	}
	return priv, nil
}

// JWKS returns the public keys that verify access tokens (GET /api/auth/jwks).
func (s *Service) JWKS(ctx context.Context) (JWKSet, error) {
	if err := s.ready(ctx); err != nil {
		return JWKSet{}, err
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if err := s.refreshPublicLocked(ctx, false); err != nil {
		return JWKSet{}, err
	}
	return JWKSet{Keys: append([]JWK{}, s.keys.jwks...)}, nil
}

// verificationKey returns the public key of kid, refetching the set when it is stale or kid is unknown.
func (s *Service) verificationKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if err := s.refreshPublicLocked(ctx, false); err != nil {
		return nil, err
	}
	if k, ok := s.keys.public[kid]; ok {
		return k, nil
	}
	if s.now().Sub(s.keys.fetchedAt) < jwksRefetchGap {
		return nil, ErrInvalidAccessToken
	}
	if err := s.refreshPublicLocked(ctx, true); err != nil {
		return nil, err
	}
	if k, ok := s.keys.public[kid]; ok {
		return k, nil
	}
	return nil, ErrInvalidAccessToken
}

// refreshPublicLocked reloads the public keys when the cache is older than 5 minutes (or force).
func (s *Service) refreshPublicLocked(ctx context.Context, force bool) error {
	now := s.now()
	if !force && s.keys.public != nil && now.Sub(s.keys.fetchedAt) < jwksCacheTTL {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, public_key FROM jwks WHERE expires_at IS NULL OR expires_at > ?
		ORDER BY created_at, id`, isotime.From(now))
	if err != nil {
		return wrap("read public keys", err)
	}
	defer func() { _ = rows.Close() }()
	public := map[string]*ecdsa.PublicKey{}
	var set []JWK
	for rows.Next() {
		var kid, raw string
		if err := rows.Scan(&kid, &raw); err != nil {
			return wrap("read public keys", err)
		}
		var jwk JWK
		if err := json.Unmarshal([]byte(raw), &jwk); err != nil {
			s.log.Warn("oidc: unreadable public key", "kid", kid, "error", err)
			continue
		}
		pub, err := jwk.PublicKey()
		if err != nil {
			s.log.Warn("oidc: unreadable public key", "kid", kid, "error", err)
			continue
		}
		jwk.Kid = kid
		public[kid] = pub
		set = append(set, jwk)
	}
	if err := rows.Err(); err != nil {
		return wrap("read public keys", err)
	}
	s.keys.public, s.keys.jwks, s.keys.fetchedAt = public, set, now
	return nil
}
