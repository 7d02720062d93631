package product

// memoryStore is the product context's own database.
//
// TODO(ex01.own-data): keep the products in a map guarded by a sync.RWMutex. Copy on the way in
// and on the way out, including the backing array of Tags (slices.Clone), so that nothing a
// caller does to a Product it passed in or got back changes what is stored.
type memoryStore struct{}

func newMemoryStore() *memoryStore {
	return &memoryStore{}
}
