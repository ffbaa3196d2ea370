// Package httpapi is the HTTP transport: the request pipeline of API.md §1 (request id, client IP, CORS, body
// limit, shutdown gate, authentication, API version), RFC 9457 problem+json errors, list envelopes and
// pagination, rate-limit headers, and the huma API that generates the OpenAPI 3.1 document from handler types.
//
// Handlers decode, call one service method and encode; business rules live in the services.
package httpapi
