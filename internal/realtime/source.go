package realtime

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/store"
)

// Listen makes db the source of h's notifications until ctx ends, starting when h gets its first subscriber
// (a server nobody watches holds no LISTEN connection): on SQLite through the in-process notify function, on
// PostgreSQL through LISTEN on a dedicated connection (reconnecting with backoff).
func Listen(ctx context.Context, db *store.DB, h *Hub, logger *slog.Logger) {
	h.mu.Lock()
	h.source = func() { listen(ctx, db, h, logger) }
	h.mu.Unlock()
}

func listen(ctx context.Context, db *store.DB, h *Hub, logger *slog.Logger) {
	if db.Dialect() != store.Postgres {
		remove := store.OnSQLiteNotify(h.Dispatch)
		go func() {
			<-ctx.Done()
			remove()
		}()
		return
	}
	ready := make(chan struct{})
	go listenPostgres(ctx, db, h, logger, ready)
	select { // the first subscriber should not miss what happens right after it subscribed
	case <-ready:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
}

func listenPostgres(ctx context.Context, db *store.DB, h *Hub, logger *slog.Logger, ready chan struct{}) {
	backoff := 100 * time.Millisecond
	var once sync.Once
	markReady := func() { once.Do(func() { close(ready) }) }
	for ctx.Err() == nil {
		err := listenOnce(ctx, db, h, markReady)
		if ctx.Err() != nil {
			return
		}
		logger.Warn("realtime: LISTEN connection lost; reconnecting", "error", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func listenOnce(ctx context.Context, db *store.DB, h *Hub, listening func()) error {
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for _, ch := range []string{ChannelRunUpdate, ChannelRunLog, ChannelRunMetric} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	listening()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			// The connection may be mid-wait: never hand it back to the pool.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
			return err
		}
		h.Dispatch(n.Channel, n.Payload)
	}
}
