// Package errs is the small shared kernel of the bounded contexts: the kinds of failure every
// context reports, so that a caller can match them with errors.Is whichever context failed.
// It holds no data and no behaviour, so sharing it couples nothing.
package errs

import "errors"

// The error kinds. Contexts wrap them with %w and a message that names what failed, for example
// fmt.Errorf("%w: email %q is not a valid address", errs.ErrInvalidInput, email).
var (
	// ErrNotFound means the entity with the given id does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means an entity with the given id exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidInput means a field failed validation; the message names the field.
	ErrInvalidInput = errors.New("invalid input")
	// ErrNotImplemented is returned by the parts of the starter code you have not written yet.
	ErrNotImplemented = errors.New("not implemented")
)
