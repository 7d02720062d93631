package decomposition

// ECommerceApp is the monolith you are taking apart: one struct owns every table of the shop,
// so any code can read or change any of them, and nothing can be deployed, scaled or owned by a
// team on its own.
//
// Each map below belongs to one bounded context. As you build the services, move each piece of
// state into the store of its context (user/, product/, order/, inventory/, payment/,
// notification/). The tests never use ECommerceApp; keep it as the "before" picture, or turn it
// into a struct that only wires the six services together.
type ECommerceApp struct {
	// User management
	users map[string]User

	// Product catalog
	products map[string]Product

	// Order processing
	orders map[string]Order

	// Inventory management
	inventory map[string]int

	// Payment processing
	payments map[string]Payment

	// Notification system
	notifications []Notification
}
