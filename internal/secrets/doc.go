// Package secrets encrypts secrets at rest (API.md §7, PACKAGES.md §4.8): AES-256-GCM envelopes
// `v1:<kid>:<base64(iv ‖ tag ‖ ciphertext)>` under a Keyring holding the active key and the retired keys that
// can still be read, the registry of the encrypted columns (Columns), and Rotate, which re-encrypts every
// stored envelope under the active key (`appstrate secrets rotate`).
package secrets
