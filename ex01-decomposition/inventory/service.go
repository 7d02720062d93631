// Package inventory is the inventory bounded context: how many units of each product are in
// stock. It refers to products by id only and never asks the catalog about them.
package inventory

import (
	"context"
	"errors"

	"github.com/microservices-workbook/workbook/ex01-decomposition/internal/errs"
)

// ErrInsufficientStock is returned by Reserve when fewer units are in stock than asked for.
var ErrInsufficientStock = errors.New("insufficient stock")

// Service is the inventory service.
type Service struct {
	store *memoryStore
}

// NewService returns an inventory service with its own store.
func NewService() *Service {
	return &Service{store: newMemoryStore()}
}

// SetStock records that quantity units of the product are in stock.
//
// TODO(ex01.bounded-contexts): the product id is required and quantity must not be negative
// (errs.ErrInvalidInput, naming the field); 0 is a valid stock.
func (s *Service) SetStock(ctx context.Context, productID string, quantity int) error {
	return errs.ErrNotImplemented
}

// Stock returns the units of the product in stock.
//
// TODO(ex01.bounded-contexts): errs.ErrNotFound for a product whose stock was never set.
func (s *Service) Stock(ctx context.Context, productID string) (int, error) {
	return 0, errs.ErrNotImplemented
}

// Reserve takes quantity units of the product out of stock, or none when there are not enough.
//
// TODO(ex01.bounded-contexts): quantity below 1 is errs.ErrInvalidInput, an unknown product
// errs.ErrNotFound, too few units ErrInsufficientStock (and nothing taken).
// TODO(ex01.own-data): check and decrement under one lock, so that two concurrent reservations
// can never both take the last unit.
func (s *Service) Reserve(ctx context.Context, productID string, quantity int) error {
	return errs.ErrNotImplemented
}
