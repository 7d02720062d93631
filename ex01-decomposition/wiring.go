package decomposition

import (
	"context"

	"github.com/microservices-workbook/workbook/ex01-decomposition/internal/errs"
	"github.com/microservices-workbook/workbook/ex01-decomposition/order"
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
// interfaces the order context declares (order.Users and order.Prices), so that the order
// package never sees a User or a Product. This translation layer is the only place that knows
// both sides.
type orderUsers struct{ users UserLookup }

// CheckUser implements order.Users.
//
// TODO(ex01.service-interfaces): ask a.users for the user and return its error as it is (%w or
// unchanged): the order service must be able to tell "no such user" (ErrNotFound) from "the
// user service is down".
func (a orderUsers) CheckUser(ctx context.Context, userID string) error {
	return errs.ErrNotImplemented
}

type orderPrices struct{ products ProductCatalog }

// UnitPrice implements order.Prices.
//
// TODO(ex01.service-interfaces): ask a.products for the product and return its Price; pass its
// error on unchanged (or wrapped with %w).
func (a orderPrices) UnitPrice(ctx context.Context, productID string) (float64, error) {
	return 0, errs.ErrNotImplemented
}
