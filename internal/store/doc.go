// Package store is the database layer: one API over an embedded SQLite file
// (Tier 0) and PostgreSQL (DATABASE_URL set), plus the schema migrations of
// both dialects.
//
// Repository code in other packages takes a Querier (a *DB or a *Tx), writes
// plain SQL with "?" placeholders (rebound to $1..$n on PostgreSQL) and
// branches on ErrNotFound, IsUniqueViolation and IsForeignKeyViolation.
//
// # Migrations
//
// Adding a migration means adding two files with the same number and name:
// migrations/sqlite/NNNN_name.sql and migrations/postgres/NNNN_name.sql.
// Open applies pending ones in order, each in its own transaction, and
// records them in schema_migrations. Never edit a released migration.
//
// # Schema conventions (both dialects describe the same logical schema)
//
//   - Timestamps: TIMESTAMP (SQLite) / timestamptz (PostgreSQL), read and
//     written only through isotime.Time (UTC, milliseconds). Pass the time
//     from Go rather than using CURRENT_TIMESTAMP or now(), so both dialects
//     store the same text/instant and SQLite comparisons stay lexical-safe.
//     Nullable timestamps need no pointer: the zero isotime.Time is NULL.
//   - JSON documents: TEXT (SQLite) / jsonb (PostgreSQL); arrays are stored
//     as JSON arrays in the same way (no text[]).
//   - Booleans: INTEGER 0/1 (SQLite, with CHECK (x IN (0,1))) / boolean.
//   - Identifiers: TEXT; prefixed ids come from package ids. Serial ids:
//     INTEGER PRIMARY KEY (SQLite) / bigint GENERATED ALWAYS AS IDENTITY.
//   - Enums: TEXT with a CHECK constraint in both dialects.
//   - Placeholders: "?" only. The Postgres jsonb operators ?, ?| and ?& clash
//     with them; use jsonb_exists / jsonb_exists_any / jsonb_exists_all.
package store
