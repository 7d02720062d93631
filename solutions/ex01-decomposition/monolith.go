package decomposition

// ECommerceApp is the shop after the decomposition. The monolith held six maps in one struct;
// each is now a service that owns its data, and ECommerceApp only wires them together. Split
// into processes, each field would become a client of a remote service and nothing else would
// change.
type ECommerceApp struct {
	Users         *UserService
	Products      *ProductService
	Orders        *OrderService
	Inventory     *InventoryService
	Payments      *PaymentService
	Notifications *NotificationService
}

// NewECommerceApp returns the six services, wired: the order service reaches users and products
// through UserLookup and ProductCatalog only.
func NewECommerceApp(opts ...UserOption) *ECommerceApp {
	users := NewUserService(opts...)
	products := NewProductService()
	return &ECommerceApp{
		Users:         users,
		Products:      products,
		Orders:        NewOrderService(users, products),
		Inventory:     NewInventoryService(),
		Payments:      NewPaymentService(),
		Notifications: NewNotificationService(),
	}
}
