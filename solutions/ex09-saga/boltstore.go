package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sagasBucket is the bbolt bucket that holds the records, keyed by saga ID.
var sagasBucket = []byte("sagas")

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
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening saga store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(sagasBucket)
		return err
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("creating the sagas bucket in %s: %w", path, err), db.Close())
	}
	return &BoltStore{db: db}, nil
}

// Close closes the file.
func (b *BoltStore) Close() error { return b.db.Close() }

// Save writes rec in one committed transaction.
func (b *BoltStore) Save(ctx context.Context, rec Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.ID == "" {
		return fmt.Errorf("%w: a record needs an ID", ErrInvalidInput)
	}
	value, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding the record of saga %q: %w", rec.ID, err)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(sagasBucket).Put([]byte(rec.ID), value)
	})
}

// Load reads the record of the saga id.
func (b *BoltStore) Load(ctx context.Context, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	var rec Record
	err := b.db.View(func(tx *bolt.Tx) error {
		value := tx.Bucket(sagasBucket).Get([]byte(id))
		if value == nil {
			return fmt.Errorf("%w: %q", ErrSagaNotFound, id)
		}
		return decodeRecord(value, &rec)
	})
	return rec, err
}

// List reads the records of the unfinished sagas, in ID order (bbolt keeps keys sorted).
func (b *BoltStore) List(ctx context.Context) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var recs []Record
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(sagasBucket).ForEach(func(_, value []byte) error {
			var rec Record
			if err := decodeRecord(value, &rec); err != nil {
				return err
			}
			if !rec.State.Final() {
				recs = append(recs, rec)
			}
			return nil
		})
	})
	return recs, err
}

// decodeRecord decodes value into rec. bbolt's values live only as long as their transaction,
// so nothing of rec may point into value: json.Unmarshal copies, RawMessage included.
func decodeRecord(value []byte, rec *Record) error {
	if err := json.Unmarshal(value, rec); err != nil {
		return fmt.Errorf("decoding a saga record: %w", err)
	}
	return nil
}
