package store

import (
	"context"
	sqldriver "database/sql/driver"
	"fmt"
	"sync"

	"modernc.org/sqlite"
)

// Notifications: PostgreSQL has LISTEN/NOTIFY; SQLite gets the same shape through a SQL function,
// appstrate_notify(channel, payload), registered for every connection of this process. Triggers and Notify
// call it; listeners registered with OnSQLiteNotify receive the notifications of every SQLite database of the
// process (a Tier 0 server has one). Unlike pg_notify, the SQLite function delivers when the statement runs,
// not at commit: a rolled-back write may have been announced.

var sqliteNotify struct {
	mu        sync.RWMutex
	next      int
	listeners map[int]func(channel, payload string)
}

func init() {
	err := sqlite.RegisterScalarFunction("appstrate_notify", 2, func(_ *sqlite.FunctionContext, args []sqldriver.Value) (sqldriver.Value, error) {
		channel, _ := args[0].(string)
		payload := textValue(args[1])
		sqliteNotify.mu.RLock()
		defer sqliteNotify.mu.RUnlock()
		for _, fn := range sqliteNotify.listeners {
			fn(channel, payload)
		}
		return nil, nil
	})
	if err != nil {
		panic(fmt.Sprintf("store: register appstrate_notify: %v", err)) // init-time programming error
	}
}

func textValue(v sqldriver.Value) string {
	switch t := v.(type) {
	case string:
		return t
	case []byte:
		return string(t)
	}
	return ""
}

// OnSQLiteNotify registers fn for the notifications raised on SQLite databases of this process; the returned
// func removes it. fn runs inside the writing statement: it must not block or touch the database.
func OnSQLiteNotify(fn func(channel, payload string)) (remove func()) {
	sqliteNotify.mu.Lock()
	defer sqliteNotify.mu.Unlock()
	if sqliteNotify.listeners == nil {
		sqliteNotify.listeners = map[int]func(string, string){}
	}
	id := sqliteNotify.next
	sqliteNotify.next++
	sqliteNotify.listeners[id] = fn
	return func() {
		sqliteNotify.mu.Lock()
		defer sqliteNotify.mu.Unlock()
		delete(sqliteNotify.listeners, id)
	}
}

// Notify raises a notification on channel through q (pg_notify on PostgreSQL, delivered at commit;
// appstrate_notify on SQLite).
func Notify(ctx context.Context, q Querier, channel, payload string) error {
	fn := "appstrate_notify"
	if q.Dialect() == Postgres {
		fn = "pg_notify"
	}
	if _, err := q.ExecContext(ctx, `SELECT `+fn+`(?, ?)`, channel, payload); err != nil {
		return fmt.Errorf("notify %s: %w", channel, err)
	}
	return nil
}
