package idempotency_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/appstrate/appstrate-go/internal/idempotency"
)

// A request claims its key, runs, and stores its response; a retry with the same body replays it.
func Example() {
	ctx := context.Background()
	var store idempotency.Memory
	scope := "org_1/app_1/- POST /api/end-users"
	hash := idempotency.HashBody([]byte(`{"name":"Ada"}`))

	first, _ := store.Begin(ctx, scope, "retry-me", hash, idempotency.TTL)
	fmt.Println(first.State)
	_ = store.Complete(ctx, scope, "retry-me", first.Token, idempotency.Response{
		Status: http.StatusCreated, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"id":"eu_1"}`)})

	retry, _ := store.Begin(ctx, scope, "retry-me", hash, idempotency.TTL)
	fmt.Println(retry.State, retry.Stored.Status, string(retry.Stored.Body))

	other, _ := store.Begin(ctx, scope, "retry-me", idempotency.HashBody([]byte(`{"name":"Bob"}`)), idempotency.TTL)
	fmt.Println(other.State)
	// Output:
	// new
	// replay 201 {"id":"eu_1"}
	// conflict
}
