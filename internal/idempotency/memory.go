package idempotency

import (
	"context"
	"sync"
	"time"
)

// Memory is an in-process Store, for tests and single-process tools. The zero value is ready to use.
type Memory struct {
	// Lease overrides DefaultLease.
	Lease time.Duration
	// Now overrides the clock; nil = time.Now.
	Now func() time.Time

	mu   sync.Mutex
	keys map[memoryKey]*memoryEntry
}

var _ Store = (*Memory)(nil)

type memoryKey struct{ scope, key string }

type memoryEntry struct {
	token, bodyHash string
	completed       bool
	resp            Response
	lockedUntil     time.Time
	expiresAt       time.Time
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// live reports whether e still counts at now.
func (e *memoryEntry) live(now time.Time) bool {
	return now.Before(e.expiresAt) && (e.completed || now.Before(e.lockedUntil))
}

// Begin claims the key (see Store).
func (m *Memory) Begin(_ context.Context, scope, key, bodyHash string, ttl time.Duration) (Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	k := memoryKey{scope, key}
	if e, ok := m.keys[k]; ok && e.live(now) {
		switch {
		case !e.completed:
			return Outcome{State: StateInProgress}, nil
		case e.bodyHash != bodyHash:
			return Outcome{State: StateConflict}, nil
		}
		resp := e.resp.clone()
		return Outcome{State: StateReplay, Stored: &resp}, nil
	}
	if m.keys == nil {
		m.keys = map[memoryKey]*memoryEntry{}
	}
	token := newToken()
	m.keys[k] = &memoryEntry{token: token, bodyHash: bodyHash, lockedUntil: now.Add(leaseFor(m.Lease, ttl)), expiresAt: now.Add(ttl)}
	return Outcome{State: StateNew, Token: token}, nil
}

// Complete stores the response (see Store).
func (m *Memory) Complete(_ context.Context, scope, key, token string, resp Response) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.keys[memoryKey{scope, key}]
	if !ok || e.token != token || e.completed {
		return ErrNotHeld
	}
	e.completed, e.resp = true, resp.clone()
	return nil
}

// Release forgets the key if token holds it (see Store).
func (m *Memory) Release(_ context.Context, scope, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memoryKey{scope, key}
	if e, ok := m.keys[k]; ok && e.token == token && !e.completed {
		delete(m.keys, k)
	}
	return nil
}

// Sweep deletes expired and abandoned keys; it returns how many.
func (m *Memory) Sweep(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var n int64
	for k, e := range m.keys {
		if !e.live(now) {
			delete(m.keys, k)
			n++
		}
	}
	return n, nil
}
