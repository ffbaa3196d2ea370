package realtime

import (
	"encoding/json"
	"sync"

	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Channels.
const (
	ChannelRunUpdate = "run_update"
	ChannelRunLog    = "run_log_insert"
	ChannelRunMetric = "run_metric"
)

// Event is one notification, decoded.
type Event struct {
	// Name is the SSE event name: run_update, run_log or run_metric.
	Name    string
	Payload map[string]any
}

// field returns a string field of the payload.
func (e Event) field(name string) string {
	s, _ := e.Payload[name].(string)
	return s
}

// Filter selects the events a subscriber receives. Org and application must always match.
type Filter struct {
	OrgID, AppID string
	RunID        string // "" = every run
	PackageID    string // "" = every agent
	EndUserID    string // set for an impersonated end-user: only its own runs (run_update)
}

func (f Filter) match(e Event) bool {
	if e.field("orgId") != f.OrgID || e.field("applicationId") != f.AppID {
		return false
	}
	if f.RunID != "" && e.field("runId") != f.RunID {
		return false
	}
	if f.PackageID != "" && e.field("packageId") != f.PackageID {
		return false
	}
	if f.EndUserID != "" && e.Name == "run_update" && e.field("endUserId") != f.EndUserID {
		return false
	}
	return true
}

// Subscription receives matching events on C until Close, or until it falls behind (C is then closed).
type Subscription struct {
	C      <-chan Event
	c      chan Event
	filter Filter
	hub    *Hub
	once   sync.Once
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.remove(s)
}

// Hub fans events out to subscriptions.
type Hub struct {
	mu     sync.RWMutex
	subs   map[*Subscription]struct{}
	closed bool

	// source starts the notification source on the first subscription (see Listen).
	source     func()
	sourceOnce sync.Once
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// queueSize bounds the events waiting for one subscriber.
const queueSize = 256

// Subscribe registers a subscription for f.
func (h *Hub) Subscribe(f Filter) *Subscription {
	c := make(chan Event, queueSize)
	s := &Subscription{C: c, c: c, filter: f, hub: h}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(c)
		return s
	}
	h.subs[s] = struct{}{}
	source := h.source
	h.mu.Unlock()
	if source != nil {
		h.sourceOnce.Do(source)
	}
	return s
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	_, ok := h.subs[s]
	delete(h.subs, s)
	h.mu.Unlock()
	if ok {
		s.once.Do(func() { close(s.c) })
	}
}

// Close ends every subscription and refuses new ones (server shutdown: streams end so the drain can finish).
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	subs := h.subs
	h.subs = map[*Subscription]struct{}{}
	h.mu.Unlock()
	for s := range subs {
		s.once.Do(func() { close(s.c) })
	}
}

// Subscribers is the number of live subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

// Dispatch decodes a raw notification of channel and delivers it. It never blocks.
func (h *Hub) Dispatch(channel, payload string) {
	e, ok := decode(channel, payload)
	if !ok {
		return
	}
	var slow []*Subscription
	h.mu.RLock()
	for s := range h.subs {
		if !s.filter.match(e) {
			continue
		}
		select {
		case s.c <- e:
		default:
			slow = append(slow, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range slow {
		h.remove(s)
	}
}

var eventNames = map[string]string{ChannelRunUpdate: "run_update", ChannelRunLog: "run_log", ChannelRunMetric: "run_metric"}

// timeFields are normalized to ISO 8601 UTC with milliseconds, whatever the dialect wrote.
var timeFields = []string{"startedAt", "completedAt", "createdAt"}

func decode(channel, payload string) (Event, bool) {
	name, ok := eventNames[channel]
	if !ok {
		return Event{}, false
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(payload), &m); err != nil || m == nil {
		return Event{}, false
	}
	if name == "run_update" {
		m["runId"] = m["id"]
	}
	for _, f := range timeFields {
		if s, ok := m[f].(string); ok {
			if t, err := isotime.ParseDB(s); err == nil {
				m[f] = t.String()
			}
		}
	}
	if raw, ok := m["data"].(string); ok && name == "run_log" && raw != "" && raw != "[payload too large]" {
		var data any
		if json.Unmarshal([]byte(raw), &data) == nil {
			m["data"] = data
		}
	}
	return Event{Name: name, Payload: m}, true
}
