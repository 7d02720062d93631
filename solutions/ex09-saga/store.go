package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// ErrSagaNotFound is returned by Store.Load for an id it has no record of.
var ErrSagaNotFound = errors.New("saga not found")

// Record is what a Store keeps of a saga: enough to resume it after a crash.
type Record struct {
	// ID is the saga's ID.
	ID string `json:"id"`
	// State is the saga's state when the record was written.
	State SagaState `json:"state"`
	// Steps are the names of the saga's steps, in order.
	Steps []string `json:"steps"`
	// Applied is how many steps, counted from the first, may have taken effect and have not been
	// compensated: it grows by one as each action succeeds, counts the step that failed, and
	// shrinks by one as each compensation succeeds.
	Applied int `json:"applied"`
	// Step is the name of the step whose action (while pending) or compensation (while
	// compensating or failed) is running or about to run; "" between steps and once finished.
	Step string `json:"step,omitempty"`
	// Data is the saga's Data, encoded as JSON.
	Data json.RawMessage `json:"data,omitempty"`
	// Error says why the saga is compensating, compensated or failed; "" otherwise.
	Error string `json:"error,omitempty"`
	// UpdatedAt is when the record was written, by the saga's Clock.
	UpdatedAt time.Time `json:"updated_at"`
}

// clone returns a copy of r that shares no memory with it.
func (r Record) clone() Record {
	r.Steps = slices.Clone(r.Steps)
	r.Data = slices.Clone(r.Data)
	return r
}

// Store keeps the records of sagas. Implementations are safe for concurrent use.
type Store interface {
	// Save writes rec, replacing the record with the same ID. A record without an ID is
	// refused with an error wrapping ErrInvalidInput.
	Save(ctx context.Context, rec Record) error
	// Load returns the record of the saga id, or an error wrapping ErrSagaNotFound.
	Load(ctx context.Context, id string) (Record, error)
	// List returns the records of the unfinished sagas (pending or compensating), sorted by ID.
	List(ctx context.Context) ([]Record, error)
}

// MemoryStore is a Store held in memory: for tests, and for sagas that need not survive their
// process.
type MemoryStore struct {
	mu      sync.Mutex
	records map[string]Record
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{records: map[string]Record{}}
}

// Save stores a copy of rec.
func (m *MemoryStore) Save(ctx context.Context, rec Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.ID == "" {
		return fmt.Errorf("%w: a record needs an ID", ErrInvalidInput)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[rec.ID] = rec.clone()
	return nil
}

// Load returns a copy of the record of the saga id.
func (m *MemoryStore) Load(ctx context.Context, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.records[id]
	if !ok {
		return Record{}, fmt.Errorf("%w: %q", ErrSagaNotFound, id)
	}
	return rec.clone(), nil
}

// List returns copies of the records of the unfinished sagas, sorted by ID.
func (m *MemoryStore) List(ctx context.Context) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var recs []Record
	for _, rec := range m.records {
		if !rec.State.Final() {
			recs = append(recs, rec.clone())
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	return recs, nil
}
