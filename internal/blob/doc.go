// Package blob stores opaque objects (package archives, uploads) by bucket and key: on the local filesystem
// under FS_STORAGE_PATH in Tiers 0–2, in an S3-compatible bucket in Tier 3. Callers see one interface.
package blob
