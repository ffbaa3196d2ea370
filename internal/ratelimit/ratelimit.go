package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Result is the outcome of one Take.
type Result struct {
	Allowed   bool
	Limit     int
	Remaining int
	Reset     time.Duration // until the current window ends
	Window    time.Duration
}

// Limiter consumes one unit of a key's budget of limit per window.
type Limiter interface {
	Take(ctx context.Context, key string, limit int, window time.Duration) (Result, error)
}

// Memory is a fixed-window Limiter held in process memory. The zero value is not usable; call NewMemory.
type Memory struct {
	mu      sync.Mutex
	windows map[string]*window
	now     func() time.Time
	sweeps  int
}

type window struct {
	start time.Time
	len   time.Duration
	count int
}

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory { return &Memory{windows: map[string]*window{}, now: time.Now} }

// SetClock makes the limiter read the time from now (nil restores the real clock). Tests freeze or advance
// it to check window boundaries without waiting.
func (m *Memory) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// Take implements Limiter.
func (m *Memory) Take(_ context.Context, key string, limit int, length time.Duration) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.maybeSweep(now)
	w := m.windows[key]
	if w == nil || now.Sub(w.start) >= w.len || w.len != length {
		w = &window{start: now, len: length}
		m.windows[key] = w
	}
	w.count++
	return Result{
		Allowed:   w.count <= limit,
		Limit:     limit,
		Remaining: max(limit-w.count, 0),
		Reset:     w.start.Add(w.len).Sub(now),
		Window:    length,
	}, nil
}

// maybeSweep drops expired windows every 1024 calls so memory stays bounded by the active keys.
func (m *Memory) maybeSweep(now time.Time) {
	m.sweeps++
	if m.sweeps < 1024 {
		return
	}
	m.sweeps = 0
	for k, w := range m.windows {
		if now.Sub(w.start) >= w.len {
			delete(m.windows, k)
		}
	}
}
