package httpcomm

import "context"

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
	// TODO(ex02.http-errors): GET /users/{userID} (escape the id with url.PathEscape) through
	// c.do, decoding the body into a User.
	return nil, ErrNotImplemented
}

// CreateUser creates user. It returns an error wrapping ErrConflict when the id is taken, and a
// *ValidationError when the service rejects the user.
func (c *UserServiceClient) CreateUser(ctx context.Context, user User) error {
	// TODO(ex02.http-errors): POST /users with user as the JSON body, through c.do.
	return ErrNotImplemented
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
	// TODO(ex02.http-errors): GET /products/{productID} through c.do.
	return nil, ErrNotImplemented
}

// CreateProduct adds product to the catalog. It returns an error wrapping ErrConflict when the
// id is taken, and a *ValidationError when the service rejects the product.
func (c *ProductServiceClient) CreateProduct(ctx context.Context, product Product) error {
	// TODO(ex02.http-errors): POST /products with product as the JSON body.
	return ErrNotImplemented
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
	// TODO(ex02.http-errors): GET /orders/{orderID} through c.do.
	return nil, ErrNotImplemented
}

// CreateOrder places order: the order service checks the user and the products, takes each
// price from the catalog and computes the total. It returns an error wrapping ErrConflict when
// the id is taken, and a *ValidationError when the order is invalid or names an unknown user or
// product.
func (c *OrderServiceClient) CreateOrder(ctx context.Context, order Order) error {
	// TODO(ex02.http-errors): POST /orders with the whole order, items included, as the JSON
	// body.
	return ErrNotImplemented
}
