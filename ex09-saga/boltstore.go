package saga

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// BoltStore is a durable Store in a single bbolt file: an embedded key-value database, no
// server. Every Save is committed to disk before it returns, so a record survives a crash of
// the process that wrote it.
type BoltStore struct {
	db *bolt.DB
}

// OpenBoltStore opens (or creates) the bbolt file at path. Only one process can have the file
// open: OpenBoltStore waits up to a second for another one to let go of it, then fails. Close
// the store when done.
func OpenBoltStore(path string) (*BoltStore, error) {
	// TODO(ex09.persistence): bolt.Open the file with a Timeout in its Options, and create the
	// bucket that holds the records (one JSON value per saga, keyed by ID) in an Update.
	return nil, ErrNotImplemented
}

// Close closes the file.
func (b *BoltStore) Close() error {
	if b == nil || b.db == nil {
		return nil
	}
	return b.db.Close()
}

// Save writes rec in one committed transaction.
func (b *BoltStore) Save(ctx context.Context, rec Record) error {
	// TODO(ex09.persistence): refuse a record without an ID (ErrInvalidInput); json.Marshal it and
	// Put it in the bucket inside db.Update.
	return ErrNotImplemented
}

// Load reads the record of the saga id.
func (b *BoltStore) Load(ctx context.Context, id string) (Record, error) {
	// TODO(ex09.persistence): Get it inside db.View and decode it there (bbolt's values are only
	// valid inside their transaction), or return an error wrapping ErrSagaNotFound.
	return Record{}, ErrNotImplemented
}

// List reads the records of the unfinished sagas, in ID order (bbolt keeps keys sorted).
func (b *BoltStore) List(ctx context.Context) ([]Record, error) {
	// TODO(ex09.persistence): ForEach over the bucket, keeping the pending and compensating sagas.
	return nil, ErrNotImplemented
}
