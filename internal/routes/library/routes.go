package library

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/routes/apppackages"
)

// Register adds GET /api/library.
func Register(api huma.API, svc *packages.Installations) {
	httpapi.Register(api, huma.Operation{
		OperationID: "getLibrary", Method: http.MethodGet, Path: "/api/library", Tags: []string{"Applications"},
		Summary: "Get the package library",
		Description: "The organization's applications and every package it can see (system and its own), grouped by type, " +
			"each with the applications it is installed in. An API key sees only its own application. Requires applications:read.",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden},
		Middlewares: huma.Middlewares{httpapi.Require("applications:read")},
	}, func(ctx context.Context, _ *struct{}) (*libraryOutput, error) {
		lib, err := svc.Library(ctx, apppackages.Caller(ctx))
		if err != nil {
			return nil, apppackages.Problem(err)
		}
		return &libraryOutput{Body: lib}, nil
	})
}

type libraryOutput struct {
	Body *packages.Library
}
