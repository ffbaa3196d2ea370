package audit

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

func TestRecordOnBothDialects(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		Record(ctx, db, Event{OrgID: "o1", ActorType: ActorUser, ActorID: "u1", Action: "org.created",
			ResourceType: "organization", ResourceID: "o1", After: map[string]string{"name": "Acme"}, RequestID: "req_x"})
		var action, after string
		if err := db.QueryRowContext(ctx, `SELECT action, after FROM audit_events WHERE org_id = ?`, "o1").Scan(&action, &after); err != nil {
			t.Fatal(err)
		}
		var doc map[string]string
		if err := json.Unmarshal([]byte(after), &doc); err != nil || action != "org.created" || doc["name"] != "Acme" {
			t.Fatalf("got %q %q", action, after)
		}
	})
}
