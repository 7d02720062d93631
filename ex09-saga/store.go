package saga

import (
	"context"
	"encoding/json"
	"errors"
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
	// TODO(ex09.persistence): a map of records by ID, guarded by a sync.Mutex.
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{}
}

// Save stores a copy of rec.
func (m *MemoryStore) Save(ctx context.Context, rec Record) error {
	// TODO(ex09.persistence): refuse a record without an ID (ErrInvalidInput); keep a copy that
	// shares no slice with rec.
	return ErrNotImplemented
}

// Load returns a copy of the record of the saga id.
func (m *MemoryStore) Load(ctx context.Context, id string) (Record, error) {
	// TODO(ex09.persistence): return a copy, or an error wrapping ErrSagaNotFound.
	return Record{}, ErrNotImplemented
}

// List returns copies of the records of the unfinished sagas, sorted by ID.
func (m *MemoryStore) List(ctx context.Context) ([]Record, error) {
	// TODO(ex09.persistence): the pending and compensating sagas only, sorted by ID.
	return nil, ErrNotImplemented
}
