// Package httpcomm holds HTTP clients for the user, product and order services of the
// e-commerce domain of exercise 01: clients with a timeout on every attempt, retries with
// exponential backoff and jitter, errors a caller can match with errors.Is and errors.As, a
// pooled transport, and context cancellation.
//
// The services themselves are provided by the exercise's tests (services_test.go): small HTTP
// handlers over in-memory stores. Each client speaks JSON to one of them:
//
//	POST /users          201 Created, 409 Conflict, 422 Unprocessable Entity
//	GET  /users/{id}     200 OK, 404 Not Found
//
// and likewise for /products and /orders. Error responses carry a JSON body such as
// {"error": "email is required"}.
package httpcomm

import "time"

// User is a customer account of the user service.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Product is an item of the product service's catalog.
type Product struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Price       float64 `json:"price"`
	Category    string  `json:"category,omitempty"`
}

// Order is a customer's order. The order service sets Status, Total, CreatedAt and each item's
// Price when it creates the order; what the caller puts there is ignored.
type Order struct {
	ID        string      `json:"id"`
	UserID    string      `json:"user_id"`
	Items     []OrderItem `json:"items"`
	Status    string      `json:"status,omitempty"`
	Total     float64     `json:"total,omitempty"`
	CreatedAt time.Time   `json:"created_at,omitzero"`
}

// OrderItem is one line of an order. Price is the unit price when the order was placed.
type OrderItem struct {
	ProductID string  `json:"product_id"`
	Quantity  int     `json:"quantity"`
	Price     float64 `json:"price,omitempty"`
}
