// Package inventory is the inventory bounded context: how many units of each product are in
// stock. It refers to products by id only and never asks the catalog about them.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
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
func (s *Service) SetStock(ctx context.Context, productID string, quantity int) error {
	if strings.TrimSpace(productID) == "" {
		return fmt.Errorf("%w: product id is required", errs.ErrInvalidInput)
	}
	if quantity < 0 {
		return fmt.Errorf("%w: quantity must not be negative, got %d", errs.ErrInvalidInput, quantity)
	}
	s.store.set(ctx, productID, quantity)
	return nil
}

// Stock returns the units of the product in stock.
func (s *Service) Stock(ctx context.Context, productID string) (int, error) {
	return s.store.get(ctx, productID)
}

// Reserve takes quantity units of the product out of stock, or none when there are not enough.
func (s *Service) Reserve(ctx context.Context, productID string, quantity int) error {
	if quantity < 1 {
		return fmt.Errorf("%w: quantity must be at least 1, got %d", errs.ErrInvalidInput, quantity)
	}
	return s.store.take(ctx, productID, quantity)
}
