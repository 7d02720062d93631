package payment

// memoryStore is the payment context's own database: payments by id.
//
// TODO(ex01.bounded-contexts, ex01.own-data): a map guarded by a sync.RWMutex (services are
// called concurrently), created by newMemoryStore so that each Service has its own.
type memoryStore struct{}

func newMemoryStore() *memoryStore {
	return &memoryStore{}
}
