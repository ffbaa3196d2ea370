package runplan

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// CheckpointKey is the pinned slot carried from one run to the next.
const CheckpointKey = "checkpoint"

// Actor types of package_persistence rows.
const (
	ActorUser    = "user"
	ActorEndUser = "end_user"
	ActorShared  = "shared"
)

// Scope is whose persistence a run sees: its actor's rows and the shared ones (Type ActorShared and ID ""
// for a run without actor).
type Scope struct {
	Type, ID string
}

// ScopeOf is the scope of a run triggered by a user or an end-user (both "" = no actor: shared only).
func ScopeOf(userID, endUserID string) Scope {
	switch {
	case endUserID != "":
		return Scope{Type: ActorEndUser, ID: endUserID}
	case userID != "":
		return Scope{Type: ActorUser, ID: userID}
	}
	return Scope{Type: ActorShared}
}

// Persisted is what earlier runs left for this one (RUNTIME.md §1.8).
type Persisted struct {
	Checkpoint  json.RawMessage            // nil = none
	PinnedSlots map[string]json.RawMessage // the other named slots
	Memories    []Memory                   // pinned memories, oldest first
}

// LoadPersisted reads the pinned rows of an agent in an application that scope sees: the checkpoint (the
// actor's own, else the shared one), the other pinned slots (the most recently updated row per key) and the
// pinned memories. Archive memories are not read: the agent recalls them with recall_memory.
func LoadPersisted(ctx context.Context, q store.Querier, packageID, appID string, scope Scope) (Persisted, error) {
	query := `SELECT key, content, actor_type, created_at, updated_at FROM package_persistence
		WHERE package_id = ? AND application_id = ? AND pinned = ? AND (actor_type = 'shared'`
	args := []any{packageID, appID, true}
	if scope.Type != ActorShared && scope.ID != "" {
		query += ` OR (actor_type = ? AND actor_id = ?)`
		args = append(args, scope.Type, scope.ID)
	}
	rows, err := q.QueryContext(ctx, query+`) ORDER BY created_at, id`, args...)
	if err != nil {
		return Persisted{}, fmt.Errorf("load persistence of %s: %w", packageID, err)
	}
	defer func() { _ = rows.Close() }()
	type slot struct {
		content json.RawMessage
		updated isotime.Time
		shared  bool
	}
	var out Persisted
	var checkpoint *slot
	slots := map[string]slot{}
	for rows.Next() {
		var key sql.NullString
		var content []byte
		var actorType string
		var created, updated isotime.Time
		if err := rows.Scan(&key, &content, &actorType, &created, &updated); err != nil {
			return Persisted{}, fmt.Errorf("scan persistence of %s: %w", packageID, err)
		}
		s := slot{content: json.RawMessage(content), updated: updated, shared: actorType == ActorShared}
		switch {
		case !key.Valid:
			out.Memories = append(out.Memories, Memory{Content: memoryText(s.content), CreatedAt: created.Time})
		case key.String == CheckpointKey:
			if checkpoint == nil || checkpoint.shared && !s.shared {
				checkpoint = &s
			}
		default:
			if cur, ok := slots[key.String]; !ok || s.updated.After(cur.updated.Time) {
				slots[key.String] = s
			}
		}
	}
	if err := rows.Err(); err != nil {
		return Persisted{}, fmt.Errorf("load persistence of %s: %w", packageID, err)
	}
	if checkpoint != nil {
		out.Checkpoint = checkpoint.content
	}
	if len(slots) > 0 {
		out.PinnedSlots = map[string]json.RawMessage{}
		for k, s := range slots {
			out.PinnedSlots[k] = s.content
		}
	}
	return out, nil
}

// memoryText is a memory's content as text: a JSON string as itself, any other JSON compact.
func memoryText(content json.RawMessage) string {
	var s string
	if json.Unmarshal(content, &s) == nil {
		return s
	}
	if v := decodeJSON(content); v != nil {
		return compactJSON(v)
	}
	return string(content)
}
