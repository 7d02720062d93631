package system

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// stores holds each service's own data. The instances of a service share their service's store,
// as the instances of a real service share its database; no service reads another's.
type stores struct {
	users         *userStore
	products      *productStore
	orders        *orderStore
	inventory     *inventoryStore
	payments      *paymentStore
	notifications *notificationStore
}

func newStores() *stores {
	return &stores{
		users:         newUserStore(),
		products:      newProductStore(),
		orders:        newOrderStore(),
		inventory:     newInventoryStore(),
		payments:      newPaymentStore(),
		notifications: newNotificationStore(),
	}
}

// newService returns the service named name for one instance.
func newService(name string, e *env, data *stores) (service, error) {
	switch name {
	case UserService:
		return &userService{env: e, store: data.users, created: counter(e.metrics, "users_created_total", "UserService created.")}, nil
	case ProductService:
		return &productService{env: e, store: data.products, created: counter(e.metrics, "products_created_total", "ProductService created.")}, nil
	case OrderService:
		return &orderService{
			env: e, store: data.orders,
			users: e.newCaller(UserService), products: e.newCaller(ProductService), payments: e.newCaller(PaymentService),
			created: counter(e.metrics, "orders_created_total", "OrderService created and paid."),
		}, nil
	case InventoryService:
		reservations := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inventory_reservations_total", Help: "OrderService whose items were reserved, or rejected for lack of stock.",
		}, []string{"result"})
		e.metrics.MustRegister(reservations)
		return &inventoryService{env: e, store: data.inventory, reservations: reservations}, nil
	case PaymentService:
		return &paymentService{env: e, store: data.payments, processed: counter(e.metrics, "payments_processed_total", "PaymentService processed.")}, nil
	case NotificationService:
		return &notificationService{env: e, store: data.notifications, sent: counter(e.metrics, "notifications_sent_total", "Notifications sent.")}, nil
	}
	return nil, fmt.Errorf("%w: unknown service %q", ErrInvalidConfig, name)
}

// counter registers a counter on reg.
func counter(reg prometheus.Registerer, name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	reg.MustRegister(c)
	return c
}

// noConsumer is the consume method of a service without events.
type noConsumer struct{}

func (noConsumer) consume(context.Context) (func(context.Context) error, error) {
	return func(context.Context) error { return nil }, nil
}
