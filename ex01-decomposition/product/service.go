// Package product is the product-catalog bounded context: what the shop sells and at what price.
// Stock levels belong to the inventory context, not here.
package product

import (
	"context"

	"github.com/microservices-workbook/workbook/ex01-decomposition/internal/errs"
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
//
// TODO(ex01.product-service): the id and a non-blank name are required and the price must be
// positive (careful: NaN is not positive, but NaN <= 0 is false); wrap errs.ErrInvalidInput
// with a message naming the field. A duplicate id fails with errs.ErrAlreadyExists.
func (s *Service) CreateProduct(ctx context.Context, p Product) error {
	return errs.ErrNotImplemented
}

// GetProduct returns a copy of the product with the given id.
//
// TODO(ex01.product-service, ex01.own-data): errs.ErrNotFound for an unknown id.
func (s *Service) GetProduct(ctx context.Context, id string) (*Product, error) {
	return nil, errs.ErrNotImplemented
}

// UpdateProduct replaces the stored product that has p's id with p.
//
// TODO(ex01.product-service): validate as CreateProduct does; errs.ErrNotFound for an unknown id.
func (s *Service) UpdateProduct(ctx context.Context, p Product) error {
	return errs.ErrNotImplemented
}

// DeleteProduct removes the product with the given id.
//
// TODO(ex01.product-service): errs.ErrNotFound for an unknown id.
func (s *Service) DeleteProduct(ctx context.Context, id string) error {
	return errs.ErrNotImplemented
}
