// Package order is the ordering bounded context. It needs to know that a customer exists and what
// a product costs, and it asks for exactly that through the two small interfaces it declares,
// Users and Prices, so it imports neither the user nor the product context.
package order

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
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
func (s *Service) CreateOrder(ctx context.Context, o Order) error {
	if err := validate(o); err != nil {
		return err
	}
	if err := s.users.CheckUser(ctx, o.UserID); err != nil {
		return fmt.Errorf("create order %q: user %q: %w", o.ID, o.UserID, err)
	}
	placed := Order{
		ID:        o.ID,
		UserID:    o.UserID,
		Items:     make([]OrderItem, len(o.Items)),
		Status:    StatusPlaced,
		CreatedAt: time.Now().UTC(),
	}
	for i, item := range o.Items {
		// The catalog sets the price: a client must not be able to choose what it pays.
		price, err := s.prices.UnitPrice(ctx, item.ProductID)
		if err != nil {
			return fmt.Errorf("create order %q: product %q: %w", o.ID, item.ProductID, err)
		}
		placed.Items[i] = OrderItem{ProductID: item.ProductID, Quantity: item.Quantity, Price: price}
		placed.Total += price * float64(item.Quantity)
	}
	// Prices are float64 as in the original monolith; rounding the total to whole cents keeps
	// sums such as 3 × 99.99 from showing binary noise.
	placed.Total = math.Round(placed.Total*100) / 100
	if err := s.store.add(ctx, placed); err != nil {
		return fmt.Errorf("create order: %w", err)
	}
	return nil
}

// GetOrder returns a copy of the order with the given id.
func (s *Service) GetOrder(ctx context.Context, id string) (*Order, error) {
	o, err := s.store.get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get order: %w", err)
	}
	return &o, nil
}

func validate(o Order) error {
	switch {
	case strings.TrimSpace(o.ID) == "":
		return fmt.Errorf("%w: id is required", errs.ErrInvalidInput)
	case strings.TrimSpace(o.UserID) == "":
		return fmt.Errorf("%w: user id is required", errs.ErrInvalidInput)
	case len(o.Items) == 0:
		return fmt.Errorf("%w: items: an order needs at least one item", errs.ErrInvalidInput)
	}
	for i, item := range o.Items {
		if strings.TrimSpace(item.ProductID) == "" {
			return fmt.Errorf("%w: items[%d]: product id is required", errs.ErrInvalidInput, i)
		}
		if item.Quantity < 1 {
			return fmt.Errorf("%w: items[%d]: quantity must be at least 1, got %d", errs.ErrInvalidInput, i, item.Quantity)
		}
	}
	return nil
}
