package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Persistence of a run's memories and pinned slots (RUNTIME.md §1.8), written by the finalize that wins.
// Unlike upstream, the finalize body's memories and pins are validated before the terminal compare-and-set:
// an invalid body is refused (400) with nothing written, so the runner can correct it and finalize again.

// Limits of package_persistence.
const (
	MaxMemoryChars       = 2000     // longer memory contents are cut
	MaxMemoriesPerScope  = 100      // archive memories per (agent, application, scope); extra ones are dropped
	MaxPinnedKeyLength   = 64       // pinned slot keys
	MaxPersistenceBytes  = 64 << 10 // pinned slot content (JSON)
	CheckpointKey        = "checkpoint"
	sharedActorCoalesced = "__shared__"
)

var pinnedKeyPattern = regexp.MustCompile(`^[a-z0-9_]+$`)

// Actor types of package_persistence.
const (
	ActorUser    = "user"
	ActorEndUser = "end_user"
	ActorShared  = "shared"
)

// ResultError is a finalize body that cannot be accepted (400 validation_failed): its memories or pinned
// slots break the persistence rules, or a member has the wrong shape. Nothing was written.
type ResultError struct {
	Fields []FieldError
}

// FieldError is one invalid member of a finalize body or of an /internal request.
type FieldError struct {
	Field   string
	Message string
}

func (e *ResultError) Error() string {
	if len(e.Fields) == 0 {
		return "invalid run result"
	}
	return e.Fields[0].Field + ": " + e.Fields[0].Message
}

// actor is the persistence scope of a run's actor: its user or end-user, or shared for a run without one.
type actor struct {
	typ, id string
}

func (a actor) shared() bool { return a.typ == ActorShared }

func actorOf(userID, endUserID string) actor {
	switch {
	case endUserID != "":
		return actor{typ: ActorEndUser, id: endUserID}
	case userID != "":
		return actor{typ: ActorUser, id: userID}
	}
	return actor{typ: ActorShared}
}

type memoryWrite struct {
	content string
	shared  bool
}

type pinWrite struct {
	key     string
	content json.RawMessage
	shared  bool
}

// persistPlan is what a finalize will persist, validated.
type persistPlan struct {
	memories   []memoryWrite
	pins       []pinWrite
	checkpoint json.RawMessage // runs.checkpoint snapshot: pinned.checkpoint when it is a plain object
}

func scopeShared(scope string) (bool, bool) {
	switch scope {
	case "", "actor":
		return false, true
	case "shared":
		return true, true
	}
	return false, false
}

// planPersistence validates the memories and pinned slots of r.
func planPersistence(r sink.RunResult) (persistPlan, error) {
	var plan persistPlan
	var errs []FieldError
	for i, m := range r.Memories {
		field := "memories[" + strconv.Itoa(i) + "]"
		shared, ok := scopeShared(m.Scope)
		if !ok {
			errs = append(errs, FieldError{Field: field + ".scope", Message: `must be "actor" or "shared"`})
			continue
		}
		content := strings.TrimSpace(m.Content)
		if content == "" {
			continue
		}
		plan.memories = append(plan.memories, memoryWrite{content: truncateRunes(content, MaxMemoryChars), shared: shared})
	}
	keys := make([]string, 0, len(r.Pinned))
	for k := range r.Pinned {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		p := r.Pinned[key]
		field := "pinned." + key
		if len(key) > MaxPinnedKeyLength || !pinnedKeyPattern.MatchString(key) {
			errs = append(errs, FieldError{Field: field, Message: "key must match ^[a-z0-9_]+$ and have at most 64 characters"})
			continue
		}
		shared, ok := scopeShared(p.Scope)
		if !ok {
			errs = append(errs, FieldError{Field: field + ".scope", Message: `must be "actor" or "shared"`})
			continue
		}
		content := json.RawMessage(strings.TrimSpace(string(p.Content)))
		switch {
		case len(content) == 0 || string(content) == "null":
			errs = append(errs, FieldError{Field: field + ".content", Message: "is required"})
			continue
		case len(content) > MaxPersistenceBytes:
			errs = append(errs, FieldError{Field: field + ".content", Message: "must be at most 65536 bytes of JSON"})
			continue
		}
		plan.pins = append(plan.pins, pinWrite{key: key, content: content, shared: shared})
		if key == CheckpointKey && content[0] == '{' {
			plan.checkpoint = content
		}
	}
	if len(errs) > 0 {
		return persistPlan{}, &ResultError{Fields: errs}
	}
	return plan, nil
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// persistTarget is where a run's persistence goes.
type persistTarget struct {
	runID, packageID, appID, orgID string
	actor                          actor
}

func (t persistTarget) scope(shared bool) actor {
	if shared {
		return actor{typ: ActorShared}
	}
	return t.actor
}

// writePersistence stores plan: archive memories (up to MaxMemoriesPerScope per scope) and upserted pinned
// slots.
func writePersistence(ctx context.Context, tx *store.Tx, t persistTarget, plan persistPlan) error {
	now := isotime.Now()
	room := map[actor]int{}
	for _, m := range plan.memories {
		a := t.scope(m.shared)
		left, known := room[a]
		if !known {
			n, err := countMemories(ctx, tx, t, a)
			if err != nil {
				return err
			}
			left = MaxMemoriesPerScope - n
		}
		if left <= 0 {
			room[a] = 0
			continue
		}
		room[a] = left - 1
		content := jsonText(m.content)
		if _, err := tx.ExecContext(ctx, `INSERT INTO package_persistence (package_id, application_id, org_id, key, pinned,
			actor_type, actor_id, content, run_id, created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)`,
			t.packageID, t.appID, t.orgID, false, a.typ, store.NullIfEmpty(a.id), content, t.runID, now, now); err != nil {
			return fmt.Errorf("insert memory of %s: %w", t.runID, err)
		}
	}
	for _, p := range plan.pins {
		a := t.scope(p.shared)
		if _, err := tx.ExecContext(ctx, `INSERT INTO package_persistence (package_id, application_id, org_id, key, pinned,
			actor_type, actor_id, content, run_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (package_id, application_id, actor_type, COALESCE(actor_id, '`+sharedActorCoalesced+`'), key)
			WHERE key IS NOT NULL DO UPDATE SET content = excluded.content, run_id = excluded.run_id,
			updated_at = excluded.updated_at`,
			t.packageID, t.appID, t.orgID, p.key, true, a.typ, store.NullIfEmpty(a.id), string(p.content), t.runID, now, now); err != nil {
			return fmt.Errorf("upsert pinned slot %s of %s: %w", p.key, t.runID, err)
		}
	}
	return nil
}

func countMemories(ctx context.Context, q store.Querier, t persistTarget, a actor) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM package_persistence WHERE package_id = ? AND application_id = ?
		AND key IS NULL AND pinned = ? AND actor_type = ? AND COALESCE(actor_id, '`+sharedActorCoalesced+`') = ?`,
		t.packageID, t.appID, false, a.typ, coalesceActor(a)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count memories: %w", err)
	}
	return n, nil
}

func coalesceActor(a actor) string {
	if a.id == "" {
		return sharedActorCoalesced
	}
	return a.id
}

// jsonText encodes s as a JSON string without HTML escaping, so that a substring search on the stored text
// finds what the agent wrote (json.Marshal would store "<" as "\u003c").
func jsonText(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
