// Package order is the ordering bounded context. It needs to know that a customer exists and what
// a product costs, and it asks for exactly that through the two small interfaces it declares,
// Users and Prices, so it imports neither the user nor the product context.
package order

import (
	"context"
	"time"

	"github.com/microservices-workbook/workbook/ex01-decomposition/internal/errs"
)

// StatusPlaced is the status of an order that CreateOrder accepted.
const StatusPlaced = "placed"

// Order is a customer's order. CreateOrder sets Status, Total, CreatedAt and each item's Price;
// whatever the caller put there is ignored.
type Order struct {
	ID        string
	UserID    string
	Items     []OrderItem
	Status    string
	Total     float64
	CreatedAt time.Time
}

// OrderItem is one line of an order. Price is the unit price when the order was placed.
type OrderItem struct {
	ProductID string
	Quantity  int
	Price     float64
}

// Users is what the order context needs from the user context.
type Users interface {
	// CheckUser returns nil when the user exists, and an error wrapping errs.ErrNotFound when not.
	CheckUser(ctx context.Context, userID string) error
}

// Prices is what the order context needs from the product catalog.
type Prices interface {
	// UnitPrice returns the current price of one unit of the product, or an error wrapping
	// errs.ErrNotFound when there is no such product.
	UnitPrice(ctx context.Context, productID string) (float64, error)
}

// Service is the order service.
type Service struct {
	users  Users
	prices Prices
	store  *memoryStore
}

// NewService returns an order service with its own store that checks customers with users and
// prices items with prices.
func NewService(users Users, prices Prices) *Service {
	return &Service{users: users, prices: prices, store: newMemoryStore()}
}

// CreateOrder validates o, checks that its user and products exist, prices each item from the
// catalog, computes the total and stores the order with status StatusPlaced.
//
// TODO(ex01.order-service): reject a missing id or user id, an empty item list and any
// quantity below 1 (errs.ErrInvalidInput, naming the field) before calling s.users or s.prices;
// then check the user with s.users and each product with s.prices, passing their errors on with
// %w (an unknown user or product is errs.ErrNotFound); take each item's Price from s.prices,
// never from the caller; compute Total (Σ Price × Quantity, rounded to whole cents once, at the
// end); set Status and CreatedAt; store nothing when anything fails. A duplicate id fails with
// errs.ErrAlreadyExists.
func (s *Service) CreateOrder(ctx context.Context, o Order) error {
	return errs.ErrNotImplemented
}

// GetOrder returns a copy of the order with the given id.
//
// TODO(ex01.order-service, ex01.own-data): errs.ErrNotFound for an unknown id.
func (s *Service) GetOrder(ctx context.Context, id string) (*Order, error) {
	return nil, errs.ErrNotImplemented
}
