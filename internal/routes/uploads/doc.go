// Package uploads serves the two-step direct upload routes (API.md §4.13): POST /api/uploads creates an
// upload and its signed PUT URL; PUT /api/uploads/_content?token=… (public, token-authenticated) streams the
// content into storage. Rules, storage and the upload://… resolver of run inputs live in internal/uploads.
package uploads
