package system

import (
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// User is a customer.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

// userStore is the user service's data.
type userStore struct {
	mu      sync.RWMutex
	byID    map[string]User
	byEmail map[string]string // email → id
}

func newUserStore() *userStore {
	return &userStore{byID: map[string]User{}, byEmail: map[string]string{}}
}

// userService serves /api/users.
type userService struct {
	noConsumer
	env     *env
	store   *userStore
	created prometheus.Counter
}

func (s *userService) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/users", s.create)
	mux.HandleFunc("GET /api/users/{id}", s.get)
	mux.HandleFunc("GET /api/users", s.list)
}

// create answers 201 with the new user, 400 for a missing name or an invalid email, 409 for an
// email already taken.
func (s *userService) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	addr, err := mail.ParseAddress(in.Email)
	switch {
	case in.Name == "":
		writeError(w, http.StatusBadRequest, "name is required")
		return
	case err != nil || addr.Address != in.Email:
		writeError(w, http.StatusBadRequest, "email is not a valid address")
		return
	}
	u := User{ID: newID("usr"), Name: in.Name, Email: in.Email, CreatedAt: time.Now().UTC()}
	s.store.mu.Lock()
	if _, taken := s.store.byEmail[u.Email]; taken {
		s.store.mu.Unlock()
		writeError(w, http.StatusConflict, "email already registered")
		return
	}
	s.store.byID[u.ID], s.store.byEmail[u.Email] = u, u.ID
	s.store.mu.Unlock()
	s.created.Inc()
	writeJSON(w, http.StatusCreated, u)
}

func (s *userService) get(w http.ResponseWriter, r *http.Request) {
	s.store.mu.RLock()
	u, ok := s.store.byID[r.PathValue("id")]
	s.store.mu.RUnlock()
	if !ok {
		writeError(w, http.StatusNotFound, "user not found")
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *userService) list(w http.ResponseWriter, _ *http.Request) {
	s.store.mu.RLock()
	out := make([]User, 0, len(s.store.byID))
	for _, u := range s.store.byID {
		out = append(out, u)
	}
	s.store.mu.RUnlock()
	slices.SortFunc(out, func(a, b User) int { return a.CreatedAt.Compare(b.CreatedAt) })
	writeJSON(w, http.StatusOK, out)
}
