package events

import "encoding/json"

// Upcaster turns the data of one version of an event into the data of the next version.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

// Upcasters holds a consumer's upcasters, one per event type and version step, so that the
// consumer's code only ever deals with the current version of each event. Register them all
// before use; Upcast is then safe for concurrent use.
type Upcasters struct {
	// TODO(ex04.versioning): keep the upcasters by event type and the version they start from.
}

// NewUpcasters returns an empty registry.
func NewUpcasters() *Upcasters {
	return &Upcasters{}
}

// Register adds up as the upcaster from version from of eventType to version from+1, and returns
// u so that calls can be chained.
func (u *Upcasters) Register(eventType string, from int, up Upcaster) *Upcasters {
	// TODO(ex04.versioning): remember up for (eventType, from).
	return u
}

// Upcast turns data, version from of eventType, into version to, one registered step at a time.
// It returns ErrUnknownVersion when from is newer than to, or when a step is missing. A nil
// registry knows no steps.
func (u *Upcasters) Upcast(eventType string, from, to int, data json.RawMessage) (json.RawMessage, error) {
	// TODO(ex04.versioning): apply the upcasters of eventType from, from+1, … to-1 in turn. A
	// version newer than to (a producer ahead of this consumer), or a missing step, is an error
	// wrapping ErrUnknownVersion: the subscriber then dead-letters the message instead of
	// retrying it.
	return nil, ErrNotImplemented
}

// UpcastUserCreatedV1 turns version 1 of UserCreatedEvent into version 2. Version 1 had no name,
// so the name is taken from the email address: "ana@example.com" becomes "ana".
func UpcastUserCreatedV1(data json.RawMessage) (json.RawMessage, error) {
	// TODO(ex04.versioning): version 1 is {"user_id", "email", "created_at"}; add "name", the
	// part of the email address before the "@".
	return nil, ErrNotImplemented
}
