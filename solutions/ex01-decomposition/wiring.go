package decomposition

import (
	"context"
	"fmt"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/order"
)

// UserLookup is what NewOrderService needs from the user context. *UserService implements it;
// so can a client of a remote user service, or a test fake.
type UserLookup interface {
	// GetUser returns the user with the given id, or an error wrapping ErrNotFound.
	GetUser(ctx context.Context, id string) (*User, error)
}

// ProductCatalog is what NewOrderService needs from the product context. *ProductService
// implements it; so can a client of a remote catalog, or a test fake.
type ProductCatalog interface {
	// GetProduct returns the product with the given id, or an error wrapping ErrNotFound.
	GetProduct(ctx context.Context, id string) (*Product, error)
}

// NewOrderService returns an order service with its own in-memory store that checks customers
// with users and takes prices from products.
func NewOrderService(users UserLookup, products ProductCatalog) *OrderService {
	return order.NewService(orderUsers{users}, orderPrices{products})
}

// orderUsers and orderPrices translate the user and product contexts' APIs into the narrower
// interfaces the order context declares, so that the order package never sees a User or a
// Product. This translation layer is the only place that knows both sides.
type orderUsers struct{ users UserLookup }

// CheckUser implements order.Users.
func (a orderUsers) CheckUser(ctx context.Context, userID string) error {
	_, err := a.users.GetUser(ctx, userID)
	return err
}

type orderPrices struct{ products ProductCatalog }

// UnitPrice implements order.Prices.
func (a orderPrices) UnitPrice(ctx context.Context, productID string) (float64, error) {
	p, err := a.products.GetProduct(ctx, productID)
	if err != nil {
		return 0, err
	}
	if p == nil {
		return 0, fmt.Errorf("product %q: %w", productID, ErrNotFound)
	}
	return p.Price, nil
}
