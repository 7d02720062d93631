package grpcsvc

import "github.com/microservices-workbook/workbook/solutions/ex03-grpc/userpb"

// toProto turns a domain user into its wire form. A zero Address is sent as no address.
func toProto(u *User) *userpb.User {
	if u == nil {
		return nil
	}
	pu := &userpb.User{Id: u.ID, Email: u.Email, Name: u.Name}
	if u.Address != (Address{}) {
		pu.Address = &userpb.Address{
			Street:     u.Address.Street,
			City:       u.Address.City,
			Country:    u.Address.Country,
			PostalCode: u.Address.PostalCode,
		}
	}
	return pu
}

// fromProto turns a user off the wire into the domain's. A missing address is the zero Address.
func fromProto(pu *userpb.User) User {
	u := User{ID: pu.GetId(), Email: pu.GetEmail(), Name: pu.GetName()}
	if a := pu.GetAddress(); a != nil {
		u.Address = Address{
			Street:     a.GetStreet(),
			City:       a.GetCity(),
			Country:    a.GetCountry(),
			PostalCode: a.GetPostalCode(),
		}
	}
	return u
}
