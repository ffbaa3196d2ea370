// Package invite serves the public invitation pages' API: GET /invite/{token}/info and
// POST /invite/{token}/accept. They live outside /api, so the pipeline does not authenticate them; accept
// reads the optional session itself. Both are rate limited per client IP.
package invite
