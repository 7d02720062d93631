// Package grpcsvc serves the user service of the e-commerce domain over gRPC, and calls it with
// a pooled, load-balanced client.
//
// The pieces, each in its own file:
//
//	proto/ex03/user_service.proto  the schema; userpb/ holds the Go code generated from it
//	service.go                     UserService, the domain: an in-memory store of users
//	server.go                      UserGRPCServer, which translates gRPC to the domain and back
//	client.go                      UserGRPCClient, which translates the domain to gRPC and back
//	interceptors.go                logging and Prometheus metrics for every call
//
// Errors cross the wire as gRPC status codes and come back as the same sentinels:
//
//	ErrInvalidInput   InvalidArgument
//	ErrNotFound       NotFound
//	ErrAlreadyExists  AlreadyExists
//	ErrUnavailable    Unavailable
//	anything else     Internal, with a message that tells the caller nothing of the server's insides
package grpcsvc

//go:generate go tool -modfile=../tools/go.mod buf generate

import (
	"errors"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/microservices-workbook/workbook/ex03-grpc/userpb"
)

// User is a customer account.
type User struct {
	ID      string
	Email   string
	Name    string
	Address Address
}

// Address is a postal address. The zero Address means the user gave none.
type Address struct {
	Street     string
	City       string
	Country    string
	PostalCode string
}

// Errors of the user service, on both sides of the wire. Match them with errors.Is.
var (
	// ErrNotImplemented is returned by the parts of the exercise that are still to be written.
	ErrNotImplemented = errors.New("not implemented")
	// ErrInvalidInput means a request was malformed: a required field is empty, an email has no @.
	ErrInvalidInput = errors.New("invalid input")
	// ErrNotFound means no user has the id asked for.
	ErrNotFound = errors.New("user not found")
	// ErrAlreadyExists means a user with that id exists already.
	ErrAlreadyExists = errors.New("user already exists")
	// ErrUnavailable means the service could not be reached, or asked the caller to try later.
	ErrUnavailable = errors.New("user service unavailable")
)

// Descriptor describes the schema of the user service, as compiled from
// proto/ex03/user_service.proto: its package, its service and its messages.
func Descriptor() protoreflect.FileDescriptor {
	return userpb.File_ex03_user_service_proto
}
