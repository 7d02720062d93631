// Package payment is the payment bounded context: charges made for orders. It refers to orders
// by id only.
package payment

import (
	"context"
	"fmt"
	"strings"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
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
func (s *Service) Charge(ctx context.Context, p Payment) error {
	switch {
	case strings.TrimSpace(p.ID) == "":
		return fmt.Errorf("%w: id is required", errs.ErrInvalidInput)
	case strings.TrimSpace(p.OrderID) == "":
		return fmt.Errorf("%w: order id is required", errs.ErrInvalidInput)
	case !(p.Amount > 0): // also rejects NaN
		return fmt.Errorf("%w: amount must be positive, got %v", errs.ErrInvalidInput, p.Amount)
	}
	p.Status = StatusCaptured
	if err := s.store.add(ctx, p); err != nil {
		return fmt.Errorf("charge: %w", err)
	}
	return nil
}

// GetPayment returns a copy of the payment with the given id.
func (s *Service) GetPayment(ctx context.Context, id string) (*Payment, error) {
	p, err := s.store.get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get payment: %w", err)
	}
	return &p, nil
}
