package httpapi

import "github.com/danielgtaylor/huma/v2"

func withPath(method, path string) huma.Operation {
	return huma.Operation{OperationID: method + path, Method: method, Path: path, Summary: "test " + path}
}
