// Package uploads is the two-step direct upload of API.md §4.13: POST /api/uploads creates an upload row and
// a signed, expiring, single-use PUT URL (an HMAC token over {k,e,s,m,u,o,a}); the client PUTs the bytes to
// /api/uploads/_content, which streams them into the object store under a hard size cap and checks their
// magic bytes against the declared MIME type; a run then consumes the upload://upl_… URI once (Consume,
// inside the run's transaction) and reads the content (Open) into its workspace as documents/<name>.
// Expired unconsumed uploads, and consumed ones after a retention period, are deleted by Sweep (a periodic
// job).
//
// Accepted types (declared at creation, verified by content): PDF, Word/Excel/PowerPoint (legacy and
// OOXML), OpenDocument, EPUB, RTF, text (plain, Markdown, CSV, TSV, HTML, XML, JSON, YAML, iCalendar,
// vCard), PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC/HEIF, AVIF, MP3, AAC, WAV, Ogg/Opus, FLAC, M4A and WebM
// audio. The declared size is at most 100 MiB (Limits.MaxSize); an upload URL lives 15 minutes.
package uploads
