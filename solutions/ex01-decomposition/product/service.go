// Package product is the product-catalog bounded context: what the shop sells and at what price.
// Stock levels belong to the inventory context, not here.
package product

import (
	"context"
	"fmt"
	"strings"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
)

// Product is an item of the catalog. Price is the current unit price.
type Product struct {
	ID          string
	Name        string
	Description string
	Price       float64
	Category    string
	Tags        []string
}

// Service is the product service.
type Service struct {
	store *memoryStore
}

// NewService returns a product service with its own store.
func NewService() *Service {
	return &Service{store: newMemoryStore()}
}

// CreateProduct validates p and stores a copy of it.
func (s *Service) CreateProduct(ctx context.Context, p Product) error {
	if err := validate(p); err != nil {
		return err
	}
	if err := s.store.add(ctx, p); err != nil {
		return fmt.Errorf("create product: %w", err)
	}
	return nil
}

// GetProduct returns a copy of the product with the given id.
func (s *Service) GetProduct(ctx context.Context, id string) (*Product, error) {
	p, err := s.store.get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get product: %w", err)
	}
	return &p, nil
}

// UpdateProduct replaces the stored product that has p's id with p.
func (s *Service) UpdateProduct(ctx context.Context, p Product) error {
	if err := validate(p); err != nil {
		return err
	}
	if err := s.store.update(ctx, p); err != nil {
		return fmt.Errorf("update product: %w", err)
	}
	return nil
}

// DeleteProduct removes the product with the given id.
func (s *Service) DeleteProduct(ctx context.Context, id string) error {
	if err := s.store.remove(ctx, id); err != nil {
		return fmt.Errorf("delete product: %w", err)
	}
	return nil
}

func validate(p Product) error {
	switch {
	case strings.TrimSpace(p.ID) == "":
		return fmt.Errorf("%w: id is required", errs.ErrInvalidInput)
	case strings.TrimSpace(p.Name) == "":
		return fmt.Errorf("%w: name is required", errs.ErrInvalidInput)
	case !(p.Price > 0): // also rejects NaN
		return fmt.Errorf("%w: price must be positive, got %v", errs.ErrInvalidInput, p.Price)
	}
	return nil
}
