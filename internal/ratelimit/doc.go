// Package ratelimit counts requests in fixed windows (rate-limiter-flexible semantics upstream). The
// in-process Memory limiter serves every tier for now: with several `serve` processes each counts its own
// windows, so a caller's budget is per process until a shared (Redis) Limiter exists. Tests freeze or move
// its clock with SetClock. The HTTP side (keys per caller, IP, run token or run; the RateLimit headers and
// the 429 problem of API.md §3.5) is in internal/httpapi.
package ratelimit
