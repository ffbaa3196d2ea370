package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestMemoryFixedWindow(t *testing.T) {
	m := NewMemory()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		r, _ := m.Take(ctx, "k", 3, time.Minute)
		if !r.Allowed || r.Remaining != 3-i {
			t.Fatalf("take %d: %+v", i, r)
		}
	}
	r, _ := m.Take(ctx, "k", 3, time.Minute)
	if r.Allowed || r.Remaining != 0 || r.Reset != time.Minute {
		t.Fatalf("over limit: %+v", r)
	}
	if r, _ := m.Take(ctx, "other", 3, time.Minute); !r.Allowed {
		t.Fatal("keys must be independent")
	}
	now = now.Add(time.Minute)
	if r, _ := m.Take(ctx, "k", 3, time.Minute); !r.Allowed || r.Remaining != 2 {
		t.Fatalf("new window: %+v", r)
	}
}

func TestMemorySweepsExpiredWindows(t *testing.T) {
	m := NewMemory()
	now := time.Now()
	m.now = func() time.Time { return now }
	for i := range 2000 {
		_, _ = m.Take(context.Background(), string(rune(i)), 1, time.Second)
	}
	now = now.Add(2 * time.Second)
	for range 1100 {
		_, _ = m.Take(context.Background(), "live", 1, time.Second)
	}
	if len(m.windows) > 1000 {
		t.Fatalf("expired windows kept: %d", len(m.windows))
	}
}

func TestMemorySetClock(t *testing.T) {
	m := NewMemory()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.SetClock(func() time.Time { return now })
	ctx := context.Background()
	if r, _ := m.Take(ctx, "k", 1, time.Second); !r.Allowed || r.Reset != time.Second {
		t.Fatalf("first take: %+v", r)
	}
	now = now.Add(999 * time.Millisecond)
	if r, _ := m.Take(ctx, "k", 1, time.Second); r.Allowed || r.Reset != time.Millisecond {
		t.Fatalf("same window: %+v", r)
	}
	now = now.Add(time.Millisecond)
	if r, _ := m.Take(ctx, "k", 1, time.Second); !r.Allowed {
		t.Fatalf("next window: %+v", r)
	}
	m.SetClock(nil)
	if r, _ := m.Take(ctx, "k", 1, time.Second); !r.Allowed {
		t.Fatalf("real clock: %+v", r)
	}
}
