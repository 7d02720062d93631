package notification

import (
	"context"
	"sync"
)

// memoryStore is the notification context's own database: the log of sent notifications.
type memoryStore struct {
	mu   sync.RWMutex
	sent []Notification
}

func newMemoryStore() *memoryStore {
	return &memoryStore{}
}

func (s *memoryStore) add(_ context.Context, n Notification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, n)
}

// byUser returns a new slice, so the caller never shares the log's backing array.
func (s *memoryStore) byUser(_ context.Context, userID string) []Notification {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Notification
	for _, n := range s.sent {
		if n.UserID == userID {
			out = append(out, n)
		}
	}
	return out
}
