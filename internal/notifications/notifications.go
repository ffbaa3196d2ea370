package notifications

import (
	"context"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Actor is whose notifications are read: a user, or an end-user (EndUserID wins when set).
type Actor struct {
	AppID     string
	UserID    string
	EndUserID string
}

// actorClause restricts runs to the actor's, in the actor's application.
func (a Actor) clause() (string, []any) {
	if a.EndUserID != "" {
		return `application_id = ? AND end_user_id = ?`, []any{a.AppID, a.EndUserID}
	}
	return `application_id = ? AND user_id = ? AND end_user_id IS NULL`, []any{a.AppID, a.UserID}
}

const unread = ` AND notified_at IS NOT NULL AND read_at IS NULL`

// Service reads and acknowledges notifications.
type Service struct{ DB *store.DB }

// UnreadCount is the number of the actor's unread finished runs.
func (s Service) UnreadCount(ctx context.Context, a Actor) (int, error) {
	where, args := a.clause()
	var n int
	if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE `+where+unread, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count unread runs: %w", err)
	}
	return n, nil
}

// UnreadByAgent is UnreadCount per agent (package id); runs of deleted agents are not counted.
func (s Service) UnreadByAgent(ctx context.Context, a Actor) (map[string]int, error) {
	where, args := a.clause()
	rows, err := s.DB.QueryContext(ctx, `SELECT package_id, count(*) FROM runs WHERE `+where+unread+
		` AND package_id IS NOT NULL GROUP BY package_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("count unread runs by agent: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("scan unread count: %w", err)
		}
		counts[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count unread runs by agent: %w", err)
	}
	return counts, nil
}

// MarkRead marks one of the actor's runs read; false when it is not one of theirs.
func (s Service) MarkRead(ctx context.Context, a Actor, runID string) (bool, error) {
	where, args := a.clause()
	var n int
	if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE id = ? AND `+where,
		append([]any{runID}, args...)...).Scan(&n); err != nil {
		return false, fmt.Errorf("find run %s: %w", runID, err)
	}
	if n == 0 {
		return false, nil
	}
	if _, err := s.DB.ExecContext(ctx, `UPDATE runs SET read_at = ? WHERE id = ? AND read_at IS NULL`,
		isotime.Now(), runID); err != nil {
		return false, fmt.Errorf("mark run %s read: %w", runID, err)
	}
	return true, nil
}

// MarkAllRead marks every unread run of the actor read and returns how many changed.
func (s Service) MarkAllRead(ctx context.Context, a Actor) (int64, error) {
	where, args := a.clause()
	res, err := s.DB.ExecContext(ctx, `UPDATE runs SET read_at = ? WHERE `+where+unread,
		append([]any{isotime.Now()}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("mark runs read: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
