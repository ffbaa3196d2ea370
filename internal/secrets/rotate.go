package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"

	"github.com/appstrate/appstrate-go/internal/store"
)

// DefaultBatchSize is the number of rows Rotate reads and rewrites per transaction.
const DefaultBatchSize = 200

// Options tunes RotateWith. The zero value rotates every registered column.
type Options struct {
	// DryRun only counts: nothing is written.
	DryRun bool
	// BatchSize is the number of rows per batch (DefaultBatchSize when ≤ 0).
	BatchSize int
	// Columns overrides the registry (Columns when nil).
	Columns []Column
}

// Report says what Rotate found and did, column by column, in registry order.
type Report struct {
	ActiveKID string
	DryRun    bool
	Columns   []ColumnReport
}

// ColumnReport counts the envelopes of one column.
type ColumnReport struct {
	Column
	// Present is false when the table or column does not exist (yet): nothing was read.
	Present bool
	// Total is the number of non-NULL values when the scan started.
	Total int
	// Rotated counts values re-encrypted under the active key (in a dry run: that would be).
	Rotated int
	// Changed counts rows whose value changed between read and write (a concurrent writer, which always
	// writes under the active key); they were left as that writer left them.
	Changed int
	// UnknownKey counts envelopes under a key id the keyring does not hold; UnknownKIDs names those ids.
	UnknownKey  int
	UnknownKIDs []string
	// Invalid counts values that are not envelopes or fail authentication. They are left untouched.
	Invalid int
}

// Current is the number of values that were already under the active key.
func (c ColumnReport) Current() int {
	n := c.Total - c.Rotated - c.Changed - c.UnknownKey - c.Invalid
	if n < 0 {
		return 0
	}
	return n
}

// Rotated is the total of rotated values over every column.
func (r Report) Rotated() int {
	n := 0
	for _, c := range r.Columns {
		n += c.Rotated
	}
	return n
}

// Problems is the number of values that could not be rotated (unknown key or invalid) over every column.
func (r Report) Problems() int {
	n := 0
	for _, c := range r.Columns {
		n += c.UnknownKey + c.Invalid
	}
	return n
}

// Rotate re-encrypts, under the active key, every envelope of every registered column that is under another
// key. See RotateWith.
func Rotate(ctx context.Context, db *store.DB, kr *Keyring, logger *slog.Logger) (Report, error) {
	return RotateWith(ctx, db, kr, logger, Options{})
}

// RotateWith walks each column present in the database in key order, in batches, and rewrites every envelope
// whose key id is not the active one: decrypt with the retired key, encrypt with the active one, and update
// the row only if it still holds the value read (compare-and-swap), so a concurrent writer is never
// overwritten. Envelopes under unknown keys and invalid values are counted and left untouched. Running it
// again rotates nothing: it is idempotent. Values are never logged.
func RotateWith(ctx context.Context, db *store.DB, kr *Keyring, logger *slog.Logger, opts Options) (Report, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cols := opts.Columns
	if cols == nil {
		cols = Columns
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	rep := Report{ActiveKID: kr.ActiveKID(), DryRun: opts.DryRun}
	for _, col := range cols {
		cr, err := rotateColumn(ctx, db, kr, logger, col, batch, opts.DryRun)
		if err != nil {
			return rep, fmt.Errorf("rotate %s: %w", col.Name(), err)
		}
		rep.Columns = append(rep.Columns, cr)
		if cr.Present {
			logger.Info("secrets rotation", "column", col.Name(), "dryRun", opts.DryRun, "total", cr.Total,
				"rotated", cr.Rotated, "current", cr.Current(), "changed", cr.Changed,
				"unknownKey", cr.UnknownKey, "invalid", cr.Invalid)
		}
	}
	return rep, nil
}

var identPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func (c Column) validate() error {
	if !identPattern.MatchString(c.Table) || !identPattern.MatchString(c.Column) || len(c.Key) == 0 {
		return fmt.Errorf("invalid column descriptor %q", c.Name())
	}
	for _, k := range c.Key {
		if !identPattern.MatchString(k) {
			return fmt.Errorf("invalid key column %q", k)
		}
	}
	return nil
}

// present reports whether the table and the column exist in the current schema.
func present(ctx context.Context, q store.Querier, c Column) (bool, error) {
	var n int
	var err error
	switch q.Dialect() {
	case store.SQLite:
		err = q.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, c.Table, c.Column).Scan(&n)
	default:
		err = q.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?`, c.Table, c.Column).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("inspect catalog: %w", err)
	}
	return n > 0, nil
}

type row struct {
	key   []any
	value string
}

func rotateColumn(ctx context.Context, db *store.DB, kr *Keyring, logger *slog.Logger, col Column, batch int, dryRun bool) (ColumnReport, error) {
	cr := ColumnReport{Column: col}
	if err := col.validate(); err != nil {
		return cr, err
	}
	ok, err := present(ctx, db, col)
	if err != nil || !ok {
		return cr, err
	}
	cr.Present = true
	if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s IS NOT NULL`, col.Table, col.Column)).Scan(&cr.Total); err != nil {
		return cr, fmt.Errorf("count: %w", err)
	}
	unknown := map[string]bool{}
	activePrefix := Version + ":" + kr.ActiveKID() + ":"
	keys := strings.Join(col.Key, ", ")
	var after []any
	for {
		if err := ctx.Err(); err != nil {
			return cr, err
		}
		rows, err := readBatch(ctx, db, col, keys, activePrefix, after, batch)
		if err != nil {
			return cr, err
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].key
		var todo []row
		var fresh []string
		for _, r := range rows {
			plain, err := kr.Decrypt(r.value)
			var uk *UnknownKeyError
			switch {
			case errors.As(err, &uk):
				cr.UnknownKey++
				unknown[uk.KID] = true
				logger.Warn("secrets rotation: value under an unknown key id left untouched",
					"column", col.Name(), "key", r.key, "kid", uk.KID)
				continue
			case err != nil:
				cr.Invalid++
				logger.Warn("secrets rotation: invalid value left untouched", "column", col.Name(), "key", r.key,
					"error", err.Error())
				continue
			}
			if dryRun {
				cr.Rotated++
				continue
			}
			env, err := kr.Encrypt(plain)
			if err != nil {
				return cr, err
			}
			todo = append(todo, r)
			fresh = append(fresh, env)
		}
		if len(todo) > 0 {
			rotated, changed, err := writeBatch(ctx, db, col, todo, fresh)
			if err != nil {
				return cr, err
			}
			cr.Rotated += rotated
			cr.Changed += changed
		}
		if len(rows) < batch {
			break
		}
	}
	for kid := range unknown {
		cr.UnknownKIDs = append(cr.UnknownKIDs, kid)
	}
	sort.Strings(cr.UnknownKIDs)
	return cr, nil
}

// readBatch reads the next rows (in key order, after the given key) whose value is not under the active kid.
func readBatch(ctx context.Context, q store.Querier, col Column, keys, activePrefix string, after []any, limit int) ([]row, error) {
	query := fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s IS NOT NULL AND substr(%s, 1, %d) <> ?`,
		keys, col.Column, col.Table, col.Column, col.Column, len(activePrefix))
	args := []any{activePrefix}
	if after != nil {
		if len(col.Key) == 1 {
			query += fmt.Sprintf(` AND %s > ?`, col.Key[0])
		} else {
			query += fmt.Sprintf(` AND (%s) > (%s)`, keys, strings.TrimSuffix(strings.Repeat("?, ", len(col.Key)), ", "))
		}
		args = append(args, after...)
	}
	query += fmt.Sprintf(` ORDER BY %s LIMIT %d`, keys, limit)
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read batch: %w", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		key := make([]string, len(col.Key))
		dest := make([]any, 0, len(col.Key)+1)
		for i := range key {
			dest = append(dest, &key[i])
		}
		var value string
		dest = append(dest, &value)
		if err := rs.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read batch: %w", err)
		}
		r := row{value: value}
		for _, k := range key {
			r.key = append(r.key, k)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read batch: %w", err)
	}
	return out, nil
}

// writeBatch updates each row in one transaction, only where the stored value is still the one read.
func writeBatch(ctx context.Context, db *store.DB, col Column, rows []row, fresh []string) (rotated, changed int, err error) {
	where := make([]string, 0, len(col.Key)+1)
	for _, k := range col.Key {
		where = append(where, k+" = ?")
	}
	where = append(where, col.Column+" = ?")
	query := fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s`, col.Table, col.Column, strings.Join(where, " AND "))
	err = db.InTx(ctx, func(tx *store.Tx) error {
		rotated, changed = 0, 0
		for i, r := range rows {
			args := append([]any{fresh[i]}, r.key...)
			args = append(args, r.value)
			res, err := tx.ExecContext(ctx, query, args...)
			if err != nil {
				return fmt.Errorf("update: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("update: %w", err)
			}
			if n == 0 {
				changed++
			} else {
				rotated++
			}
		}
		return nil
	})
	return rotated, changed, err
}
