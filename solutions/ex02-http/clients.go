package httpcomm

import (
	"context"
	"net/http"
	"net/url"
)

// UserServiceClient calls the user service over HTTP. It is safe for concurrent use; make one
// per service and share it, so that its calls share one pool of connections.
type UserServiceClient struct {
	api
}

// NewUserServiceClient returns a client of the user service at baseURL, such as
// "http://users.internal:8080". Without options it uses the defaults described on Config.
func NewUserServiceClient(baseURL string, opts ...Option) *UserServiceClient {
	return &UserServiceClient{api: newAPI(baseURL, opts)}
}

// GetUser returns the user with the given id, or an error wrapping ErrNotFound.
func (c *UserServiceClient) GetUser(ctx context.Context, userID string) (*User, error) {
	var u User
	if err := c.do(ctx, http.MethodGet, "/users/"+url.PathEscape(userID), nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser creates user. It returns an error wrapping ErrConflict when the id is taken, and a
// *ValidationError when the service rejects the user.
func (c *UserServiceClient) CreateUser(ctx context.Context, user User) error {
	return c.do(ctx, http.MethodPost, "/users", user, nil)
}

// ProductServiceClient calls the product service over HTTP. It is safe for concurrent use.
type ProductServiceClient struct {
	api
}

// NewProductServiceClient returns a client of the product service at baseURL. Without options
// it uses the defaults described on Config.
func NewProductServiceClient(baseURL string, opts ...Option) *ProductServiceClient {
	return &ProductServiceClient{api: newAPI(baseURL, opts)}
}

// GetProduct returns the product with the given id, or an error wrapping ErrNotFound.
func (c *ProductServiceClient) GetProduct(ctx context.Context, productID string) (*Product, error) {
	var p Product
	if err := c.do(ctx, http.MethodGet, "/products/"+url.PathEscape(productID), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// CreateProduct adds product to the catalog. It returns an error wrapping ErrConflict when the
// id is taken, and a *ValidationError when the service rejects the product.
func (c *ProductServiceClient) CreateProduct(ctx context.Context, product Product) error {
	return c.do(ctx, http.MethodPost, "/products", product, nil)
}

// OrderServiceClient calls the order service over HTTP. It is safe for concurrent use.
type OrderServiceClient struct {
	api
}

// NewOrderServiceClient returns a client of the order service at baseURL. Without options it
// uses the defaults described on Config.
func NewOrderServiceClient(baseURL string, opts ...Option) *OrderServiceClient {
	return &OrderServiceClient{api: newAPI(baseURL, opts)}
}

// GetOrder returns the order with the given id, or an error wrapping ErrNotFound.
func (c *OrderServiceClient) GetOrder(ctx context.Context, orderID string) (*Order, error) {
	var o Order
	if err := c.do(ctx, http.MethodGet, "/orders/"+url.PathEscape(orderID), nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// CreateOrder places order: the order service checks the user and the products, takes each
// price from the catalog and computes the total. It returns an error wrapping ErrConflict when
// the id is taken, and a *ValidationError when the order is invalid or names an unknown user or
// product.
func (c *OrderServiceClient) CreateOrder(ctx context.Context, order Order) error {
	return c.do(ctx, http.MethodPost, "/orders", order, nil)
}
