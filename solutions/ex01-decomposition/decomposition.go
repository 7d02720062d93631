// Package decomposition is the e-commerce monolith split into six bounded contexts, each a
// service that owns its data: user, product, order, inventory, payment and notification, one
// subpackage each. This package is their public face: it re-exports their types and
// constructors and wires the order service to the user and product services through small
// interfaces (see wiring.go).
package decomposition

import (
	"log/slog"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/inventory"
	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/notification"
	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/order"
	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/payment"
	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/product"
	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/user"
)

// Errors returned by the services, wrapped with a message that says what failed. Match them
// with errors.Is.
var (
	// ErrNotFound means the entity with the given id does not exist.
	ErrNotFound = errs.ErrNotFound
	// ErrAlreadyExists means an entity with the given id exists already.
	ErrAlreadyExists = errs.ErrAlreadyExists
	// ErrInvalidInput means a field failed validation; the message names the field.
	ErrInvalidInput = errs.ErrInvalidInput
	// ErrInvalidCredentials is returned by UserService.Authenticate.
	ErrInvalidCredentials = user.ErrInvalidCredentials
	// ErrInsufficientStock is returned by InventoryService.Reserve.
	ErrInsufficientStock = inventory.ErrInsufficientStock
)

// Statuses set by the services.
const (
	// OrderStatusPlaced is the status of an order that CreateOrder accepted.
	OrderStatusPlaced = order.StatusPlaced
	// PaymentStatusCaptured is the status of a payment that Charge accepted.
	PaymentStatusCaptured = payment.StatusCaptured
)

// User context.
type (
	// User is a customer account; see user.User.
	User = user.User
	// Address is a postal address.
	Address = user.Address
	// UserService manages users and their credentials.
	UserService = user.Service
	// UserOption configures NewUserService.
	UserOption = user.Option
	// UserRepository is where a UserService keeps its users.
	UserRepository = user.Repository
)

// NewUserService returns a user service with its own in-memory store.
func NewUserService(opts ...UserOption) *UserService { return user.NewService(opts...) }

// WithUserRepository makes the user service keep its users in r instead of its own store.
func WithUserRepository(r UserRepository) UserOption { return user.WithRepository(r) }

// WithPasswordCost sets the bcrypt cost of password hashes. Default: bcrypt.DefaultCost.
func WithPasswordCost(cost int) UserOption { return user.WithPasswordCost(cost) }

// WithUserLogger sets the user service's logger. Default: one that discards everything.
func WithUserLogger(l *slog.Logger) UserOption { return user.WithLogger(l) }

// Product context.
type (
	// Product is an item of the catalog.
	Product = product.Product
	// ProductService manages the catalog.
	ProductService = product.Service
)

// NewProductService returns a product service with its own in-memory store.
func NewProductService() *ProductService { return product.NewService() }

// Order context. NewOrderService is in wiring.go.
type (
	// Order is a customer's order.
	Order = order.Order
	// OrderItem is one line of an order.
	OrderItem = order.OrderItem
	// OrderService places orders.
	OrderService = order.Service
)

// Inventory context.
type (
	// InventoryService tracks units in stock.
	InventoryService = inventory.Service
)

// NewInventoryService returns an inventory service with its own in-memory store.
func NewInventoryService() *InventoryService { return inventory.NewService() }

// Payment context.
type (
	// Payment is a charge for an order.
	Payment = payment.Payment
	// PaymentService charges payments.
	PaymentService = payment.Service
)

// NewPaymentService returns a payment service with its own in-memory store.
func NewPaymentService() *PaymentService { return payment.NewService() }

// Notification context.
type (
	// Notification is a message to a user.
	Notification = notification.Notification
	// NotificationService sends notifications.
	NotificationService = notification.Service
)

// NewNotificationService returns a notification service with its own in-memory store.
func NewNotificationService() *NotificationService { return notification.NewService() }
