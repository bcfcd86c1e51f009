package api

import (
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// Public marks a route anyone may call. Every other route names the roles allowed;
// a route that names none cannot be registered (deny by default).
const Public = "public"

// Route is one registered endpoint and the roles that may call it.
type Route struct {
	Method  string
	Path    string // OpenAPI style: /v1/partners/{id}
	Roles   []string
	Handler gin.HandlerFunc `json:"-"` // the handler alone, without its middleware (the portal invokes it)
}

// handle registers a route with its roles; auth runs before the handler.
func (s *Server) handle(g gin.IRoutes, method, path string, roles []string, h gin.HandlerFunc) {
	if len(roles) == 0 {
		panic("route " + method + " " + path + " declares no roles")
	}
	full := path
	if rg, ok := g.(*gin.RouterGroup); ok {
		full = strings.TrimSuffix(rg.BasePath(), "/") + path
	}
	r := Route{Method: method, Path: openAPIPath(full), Roles: roles, Handler: h}
	s.routes = append(s.routes, r)
	if s.routeHandlers == nil {
		s.routeHandlers = map[string]Route{}
	}
	s.routeHandlers[method+" "+full] = r
	handlers := []gin.HandlerFunc{}
	switch {
	case !slices.Contains(roles, Public):
		handlers = append(handlers, s.authenticate(roles))
	case method != "GET" && len(roles) == 1:
		handlers = append(handlers, s.limitPublic) // anonymous writes are limited per client address
	}
	g.Handle(method, path, append(handlers, h)...)
}

// Routes lists every registered route with its roles.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// openAPIPath turns gin's :id into OpenAPI's {id}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if strings.HasPrefix(part, ":") {
			parts[i] = "{" + part[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

var (
	staff       = []string{"admin", "manager", "finance"}
	managers    = []string{"manager"}
	admins      = []string{"admin"}
	partners    = []string{"partner"}
	anyone      = []string{Public}
	staffAndOwn = []string{"admin", "manager", "finance", "partner"}
	// integrationOrSigned: checked by the handler itself (an integration key, or a
	// signature with the program's secret); no key middleware.
	integrationOrSigned = []string{Public, "integration"}
	financeOnly         = []string{"finance"}
	financeAndAdmin     = []string{"finance", "admin"}
	financeOrPartner    = []string{"finance", "partner"}
	// signedWebhook: verified by the handler with a shared secret.
	signedWebhook = []string{Public, "provider"}
	// adminOrManager: tier moves.
	adminOrManager = []string{"admin", "manager"}
	// adminOrPartner: a partner its own (checked per record), an admin any.
	adminOrPartner = []string{"admin", "partner"}
	// partnerOrManager: the deal's own partner (checked per record) or a manager.
	partnerOrManager = []string{"manager", "partner"}
)
