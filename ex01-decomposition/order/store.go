package order

// memoryStore is the order context's own database.
//
// TODO(ex01.own-data): keep the orders in a map guarded by a sync.RWMutex. Copy on the way in
// and on the way out, including the backing array of Items, so that nothing a caller does to an
// Order it passed in or got back changes what is stored.
type memoryStore struct{}

func newMemoryStore() *memoryStore {
	return &memoryStore{}
}
