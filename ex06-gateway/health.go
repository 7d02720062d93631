package gateway

import "net/http"

// health answers /health, the liveness check.
func (gw *APIGateway) health(w http.ResponseWriter, _ *http.Request) {
	// TODO(ex06.health): answer 200 with a JSON object, such as {"status":"ok"}. Ask nothing of
	// the registry: liveness must stay cheap, or a slow registry gets the gateway restarted.
	writeError(w, http.StatusNotImplemented, ErrNotImplemented.Error())
}

// ready answers /ready, the readiness check.
func (gw *APIGateway) ready(w http.ResponseWriter, _ *http.Request) {
	// TODO(ex06.health): answer 200 when every route has at least one healthy instance (one the
	// registry returns and the gateway has not marked down), else 503; both with a JSON object,
	// such as {"status":"ready","routes":{"/api/users":{"service":"users","healthy_instances":2}}}.
	// A registry that fails counts as no instance; bound the lookups with a timeout.
	writeError(w, http.StatusNotImplemented, ErrNotImplemented.Error())
}
