// Package authroutes serves the Better Auth compatible endpoints under /api/auth (email sign-up and
// sign-in, sessions, email verification, password reset and change) with Better Auth's `{code, message}`
// error bodies, origin check and rate limits, plus the Appstrate bootstrap token redemption
// (POST /api/auth/bootstrap/redeem, problem+json).
package authroutes
