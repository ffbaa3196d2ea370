// Package config turns the process environment into one typed, validated Config.
//
// Every variable the server reads is declared once, in the ordered table of vars.go, with its default,
// its parser and whether it holds a secret. Load walks that table in order and stops at the first bad
// value with an *Error that names the variable and the expected form; Redacted walks the same table to
// print the effective configuration with secrets hidden. Tier reports which infrastructure tier
// (0 SQLite … 3 Postgres+Redis+S3) the environment selects, and EnsureSecrets fills missing secrets
// outside production from <DATA_DIR>/secrets.json.
//
// Conventions: values are trimmed, and a variable set to the empty string counts as unset (its default
// applies) — except MODULES, where an explicit empty value means "no modules". PGLITE_DATA_DIR is not
// read: the embedded database is the SQLite file at SQLitePath, under DATA_DIR.
package config
