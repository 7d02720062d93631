package events

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Upcaster turns the data of one version of an event into the data of the next version.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

// upcastStep names the upcaster that starts from version from of an event type.
type upcastStep struct {
	eventType string
	from      int
}

// Upcasters holds a consumer's upcasters, one per event type and version step, so that the
// consumer's code only ever deals with the current version of each event. Register them all
// before use; Upcast is then safe for concurrent use.
type Upcasters struct {
	steps map[upcastStep]Upcaster
}

// NewUpcasters returns an empty registry.
func NewUpcasters() *Upcasters {
	return &Upcasters{steps: make(map[upcastStep]Upcaster)}
}

// Register adds up as the upcaster from version from of eventType to version from+1, and returns
// u so that calls can be chained.
func (u *Upcasters) Register(eventType string, from int, up Upcaster) *Upcasters {
	u.steps[upcastStep{eventType, from}] = up
	return u
}

// Upcast turns data, version from of eventType, into version to, one registered step at a time.
// It returns ErrUnknownVersion when from is newer than to, or when a step is missing. A nil
// registry knows no steps.
func (u *Upcasters) Upcast(eventType string, from, to int, data json.RawMessage) (json.RawMessage, error) {
	if from > to {
		return nil, fmt.Errorf("%w: %s version %d is newer than version %d, the latest this consumer knows",
			ErrUnknownVersion, eventType, from, to)
	}
	for v := from; v < to; v++ {
		var up Upcaster
		if u != nil {
			up = u.steps[upcastStep{eventType, v}]
		}
		if up == nil {
			return nil, fmt.Errorf("%w: no upcaster from %s version %d to %d", ErrUnknownVersion, eventType, v, v+1)
		}
		next, err := up(data)
		if err != nil {
			return nil, fmt.Errorf("%w: upcast %s from version %d: %w", ErrMalformedEvent, eventType, v, err)
		}
		data = next
	}
	return data, nil
}

// userCreatedV1 is version 1 of UserCreatedEvent, as its producers still send it.
type userCreatedV1 struct {
	UserID    string          `json:"user_id"`
	Email     string          `json:"email"`
	CreatedAt json.RawMessage `json:"created_at"`
}

// UpcastUserCreatedV1 turns version 1 of UserCreatedEvent into version 2. Version 1 had no name,
// so the name is taken from the email address: "ana@example.com" becomes "ana".
func UpcastUserCreatedV1(data json.RawMessage) (json.RawMessage, error) {
	var v1 userCreatedV1
	if err := json.Unmarshal(data, &v1); err != nil {
		return nil, fmt.Errorf("decode user.created v1: %w", err)
	}
	name, _, _ := strings.Cut(v1.Email, "@")
	return json.Marshal(struct {
		userCreatedV1
		Name string `json:"name"`
	}{v1, name})
}
