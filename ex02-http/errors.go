package httpcomm

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors returned by the clients, wrapped with the request that failed. Match them with
// errors.Is.
var (
	// ErrNotImplemented is returned by the parts of the exercise that are still to be written.
	ErrNotImplemented = errors.New("not implemented")
	// ErrNotFound means the service answered 404 Not Found: no entity has that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the service answered 409 Conflict: an entity with that id exists already.
	ErrConflict = errors.New("conflict")
	// ErrValidation means the service answered 400 Bad Request or 422 Unprocessable Entity. The
	// error is a *ValidationError that carries the service's message.
	ErrValidation = errors.New("validation failed")
	// ErrTimeout means an attempt took longer than Config.Timeout, or the caller's context
	// deadline passed (the error then also wraps context.DeadlineExceeded).
	ErrTimeout = errors.New("timed out")
	// ErrBadResponse means a response body could not be used: it is not the JSON expected, or it
	// is larger than MaxResponseBytes.
	ErrBadResponse = errors.New("bad response")
)

// MaxResponseBytes is the largest response body the clients read. A larger body is an error
// wrapping ErrBadResponse, so that a faulty or hostile service cannot exhaust the caller's memory.
const MaxResponseBytes = 1 << 20

// maxErrorBody bounds how much of an error response is read for its message.
const maxErrorBody = 4 << 10

// ValidationError reports a request that the service rejected as invalid (400 or 422).
type ValidationError struct {
	// StatusCode is the status of the response, 400 or 422.
	StatusCode int
	// Message is the service's explanation, such as "email is required".
	Message string
}

// Error returns the service's message, such as "validation failed: email is required".
func (e *ValidationError) Error() string {
	return "validation failed: " + e.Message
}

// Is makes errors.Is(err, ErrValidation) true for a *ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

// StatusError reports a response whose status the client has no better error for: a 5xx, or a
// 4xx other than 400, 404, 409 and 422.
type StatusError struct {
	// StatusCode is the status of the response, such as 503.
	StatusCode int
	// Message is the service's explanation, when it gave one.
	Message string
}

// Error returns the status code and text, such as "server error: 503 Service Unavailable".
func (e *StatusError) Error() string {
	kind := "server error"
	if e.StatusCode < http.StatusInternalServerError {
		kind = "unexpected status"
	}
	msg := fmt.Sprintf("%s: %d %s", kind, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// errorFromResponse turns a response with a status of 400 or above into an error. It reads a
// bounded part of the body for the service's message; the caller drains and closes the body.
func errorFromResponse(resp *http.Response) error {
	// TODO(ex02.http-errors): read at most maxErrorBody bytes of the body (io.LimitReader) and
	// take the message from its JSON "error" field, or else the body's text. Then map the status:
	// 404 to an error wrapping ErrNotFound, 409 to one wrapping ErrConflict, 400 and 422 to a
	// *ValidationError with the message, and anything else to a *StatusError.
	return fmt.Errorf("%w: mapping status %d to an error", ErrNotImplemented, resp.StatusCode)
}
