package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

const instanceIDKey = "instance_id"

// InstanceID returns the UUID naming this installation, creating it on the
// first call. Concurrent first calls (even from several servers) agree.
func (db *DB) InstanceID(ctx context.Context) (string, error) {
	id, err := db.metaValue(ctx, instanceIDKey)
	if !errors.Is(err, ErrNotFound) {
		return id, err
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO app_meta (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`,
		instanceIDKey, ids.UUID(), isotime.Now())
	if err != nil {
		return "", fmt.Errorf("store: create instance id: %w", err)
	}
	return db.metaValue(ctx, instanceIDKey)
}

func (db *DB) metaValue(ctx context.Context, key string) (string, error) {
	var v string
	err := db.QueryRowContext(ctx, `SELECT value FROM app_meta WHERE key = ?`, key).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("store: read app_meta %q: %w", key, MapNotFound(err))
	}
	return v, nil
}
