package notification

// memoryStore is the notification context's own database: the log of sent notifications.
//
// TODO(ex01.bounded-contexts, ex01.own-data): a slice guarded by a sync.RWMutex (services are
// called concurrently), created by newMemoryStore so that each Service has its own.
type memoryStore struct{}

func newMemoryStore() *memoryStore {
	return &memoryStore{}
}
