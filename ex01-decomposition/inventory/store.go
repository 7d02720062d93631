package inventory

// memoryStore is the inventory context's own database: units in stock by product id.
//
// TODO(ex01.bounded-contexts, ex01.own-data): a map[string]int guarded by a sync.Mutex (services
// are called concurrently), created by newMemoryStore so that each Service has its own.
type memoryStore struct{}

func newMemoryStore() *memoryStore {
	return &memoryStore{}
}
