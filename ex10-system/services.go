package system

import (
	"context"
	"net/http"
)

// service is what each of the six services provides to its instances.
type service interface {
	// routes adds the service's API to mux.
	routes(mux *http.ServeMux)
	// consume starts the service's event consumer, if it has one, and returns the function
	// that stops it, draining the event in progress.
	consume(ctx context.Context) (stop func(context.Context) error, err error)
}

// stores holds each service's own data. The instances of a service share their service's store,
// as the instances of a real service share its database; no service reads another's.
type stores struct {
	// TODO(ex10.system-running): one store per service (users, products, orders, inventory,
	// payments, notifications), each safe for concurrent use.
}

// newService returns the service named name for one instance.
func newService(name string, e *env, data *stores) (service, error) {
	// TODO(ex10.system-running): build the service with its store, what it needs from its
	// instance (logger, metrics registry, tracer, JetStream, callers of the other services),
	// and its business counters (ex10.metrics).
	return nil, ErrNotImplemented
}
