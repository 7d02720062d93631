// Package payment is the payment bounded context: charges made for orders. It refers to orders
// by id only.
package payment

import (
	"context"

	"github.com/microservices-workbook/workbook/ex01-decomposition/internal/errs"
)

// StatusCaptured is the status of a payment that Charge accepted.
const StatusCaptured = "captured"

// Payment is a charge for an order. Charge sets Status.
type Payment struct {
	ID      string
	OrderID string
	Amount  float64
	Status  string
}

// Service is the payment service. A real one would call a payment provider in Charge.
type Service struct {
	store *memoryStore
}

// NewService returns a payment service with its own store.
func NewService() *Service {
	return &Service{store: newMemoryStore()}
}

// Charge validates p, marks it captured and records it.
//
// TODO(ex01.bounded-contexts): the id and order id are required and the amount must be
// positive, NaN excluded (errs.ErrInvalidInput, naming the field); set Status to
// StatusCaptured; a duplicate id fails with errs.ErrAlreadyExists and keeps the first payment.
func (s *Service) Charge(ctx context.Context, p Payment) error {
	return errs.ErrNotImplemented
}

// GetPayment returns a copy of the payment with the given id.
//
// TODO(ex01.bounded-contexts): errs.ErrNotFound for an unknown id.
func (s *Service) GetPayment(ctx context.Context, id string) (*Payment, error) {
	return nil, errs.ErrNotImplemented
}
