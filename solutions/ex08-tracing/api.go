package tracing

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
)

// UserGetter looks a user up by id. *UserService, *TracedUserService and *GRPCUserClient are
// UserGetters.
type UserGetter interface {
	GetUser(ctx context.Context, userID string) (*User, error)
}

// UserViewedSubject is the NATS subject on which the API announces each user it served. The
// message data is the user's id.
const UserViewedSubject = "users.viewed"

// NewAPIHandler returns the HTTP API of the system, a ServeMux with one route:
// GET /users/{id} answers the user as JSON, 404 when there is no such user, 400 for an invalid
// id, and 500 (logged to logger, the details kept from the client) for any other failure.
// When events is not nil, each user served is announced on UserViewedSubject; a failure to
// publish is logged and does not fail the request. A nil logger logs nothing.
func NewAPIHandler(users UserGetter, events *EventPublisher, logger *slog.Logger) http.Handler {
	logger = orDiscard(logger)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := users.GetUser(ctx, r.PathValue("id"))
		switch {
		case errors.Is(err, ErrUserNotFound):
			http.Error(w, "user not found", http.StatusNotFound)
			return
		case errors.Is(err, ErrInvalidUserID):
			http.Error(w, "invalid user id", http.StatusBadRequest)
			return
		case err != nil:
			logger.ErrorContext(ctx, "get user failed", slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if events != nil {
			if err := events.Publish(ctx, UserViewedSubject, []byte(u.ID)); err != nil {
				logger.WarnContext(ctx, "announce user viewed", slog.Any("error", err))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(u); err != nil {
			logger.WarnContext(ctx, "write response", slog.Any("error", err))
		}
	})
	return mux
}

// orDiscard returns logger, or a logger that discards everything when it is nil.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
