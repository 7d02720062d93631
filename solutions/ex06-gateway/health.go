package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// readyTimeout bounds the registry lookups of one /ready request.
const readyTimeout = 2 * time.Second

// health answers /health, the liveness check: the gateway is up, and that is all it says. It
// asks nothing of anyone, so that a slow registry cannot get the gateway restarted.
func (gw *APIGateway) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// routeReadiness is one route's line in the /ready answer.
type routeReadiness struct {
	Service          string `json:"service"`
	HealthyInstances int    `json:"healthy_instances"`
}

// ready answers /ready, the readiness check: 200 when every route has at least one healthy
// instance (one the registry returns and the gateway has not marked down), else 503.
func (gw *APIGateway) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	status, word := http.StatusOK, "ready"
	routes := make(map[string]routeReadiness, len(gw.routes))
	for p, rt := range gw.routes {
		healthy, err := gw.upstreams.healthy(ctx, rt.ServiceName)
		if err != nil || len(healthy) == 0 {
			status, word = http.StatusServiceUnavailable, "not ready"
		}
		routes[p] = routeReadiness{Service: rt.ServiceName, HealthyInstances: len(healthy)}
	}
	writeJSON(w, status, map[string]any{"status": word, "routes": routes})
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
