// Package ratelimit counts requests in fixed windows (rate-limiter-flexible semantics upstream). The
// in-process Memory limiter serves Tier 0/1; a Redis implementation of Limiter serves several processes.
package ratelimit
