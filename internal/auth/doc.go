// Package auth identifies who is calling: principals, and later users, sessions, API keys, JWTs and RBAC.
package auth
