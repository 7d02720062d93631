package system

import (
	"net/http"
	"time"
)

// User is a customer, as the API answers it.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

// userService serves /api/users.
type userService struct {
	// TODO(ex10.system-running): its store, and users_created_total (ex10.metrics).
}

// routes serves POST /api/users (201 with the new user; 400 for a missing name or an invalid
// email; 409 for an email already taken), GET /api/users/{id} (200; 404) and GET /api/users
// (200, every user).
func (s *userService) routes(mux *http.ServeMux) {
	// TODO(ex10.system-running)
}
