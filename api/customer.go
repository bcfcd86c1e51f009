package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

type CustomerInput struct {
	Name    string `json:"name" validate:"required,max=200"`
	Domain  string `json:"domain" validate:"required,max=253"`
	Country string `json:"country" validate:"required"`
}

type LoadCustomersRequest struct {
	Customers []CustomerInput `json:"customers" validate:"required,min=1,max=5000,dive"`
}

// loadCustomers adds the vendor's existing customers, which deal registration
// refuses; a customer already known (same registrable domain) is skipped.
func (s *Server) loadCustomers(c *gin.Context) {
	var req LoadCustomersRequest
	body, err := s.readJSON(c, &req)
	domains := make([]string, len(req.Customers))
	for i, cu := range req.Customers {
		if err != nil {
			break
		}
		field := fmt.Sprintf("customers[%d]", i)
		var ok bool
		switch {
		case strings.TrimSpace(cu.Name) == "" || domain.NormalizeCompanyName(cu.Name) == "":
			err = domain.Invalid(field+".name", "invalid", "name must name a company")
		case !domain.ValidCountry(cu.Country):
			err = domain.Invalid(field+".country", "invalid", "country must be an ISO 3166 two-letter code such as US")
		default:
			if domains[i], ok = domain.CustomerDomain(cu.Domain); !ok {
				err = domain.Invalid(field+".domain", "invalid", "domain must be a website domain such as acme.com")
			}
		}
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		created := 0
		for i, cu := range req.Customers {
			n, err := q.CreateCustomer(ctx, db.CreateCustomerParams{ID: uuid.Must(uuid.NewV7()), Name: strings.TrimSpace(cu.Name),
				NameNormalized: domain.NormalizeCompanyName(cu.Name), Domain: domains[i], Country: cu.Country})
			if err != nil {
				return answer{}, err
			}
			created += int(n)
		}
		return answer{Status: http.StatusCreated, Body: gin.H{"created": created, "already_known": len(req.Customers) - created}}, nil
	})
}
