package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// Operations owned by the HTTP layer itself.
var operationHealth = huma.Operation{
	OperationID: "getHealth",
	Method:      http.MethodGet,
	Path:        "/health",
	Summary:     "Health check",
	Description: "Reports the database reachability and whether system agents are loaded. Public.",
	Tags:        []string{"Health"},
	Security:    Public,
	Errors:      []int{http.StatusServiceUnavailable},
}
