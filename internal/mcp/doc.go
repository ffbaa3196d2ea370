// Package mcp is a small implementation of the Model Context Protocol (MCP) as used between the agent runner and
// the run sidecar: JSON-RPC 2.0 over "streamable HTTP" in its stateless form — every POST carries one JSON-RPC
// message (or a batch), the answer is a plain application/json body, there is no SSE stream and no session id.
//
// Types mirror the protocol's wire shapes (Request, Response, Error, Tool, CallToolResult, Content,
// ReadResourceResult). Server is an http.Handler: register tools with AddTool, give resources/read a callback with
// SetResourceReader; it answers initialize (negotiating protocol version 2025-03-26 or 2025-06-18),
// notifications/initialized (202, no body), ping, tools/list, tools/call, resources/list (always empty) and
// resources/read. Client speaks the same subset over an *http.Client with extra headers (a bearer token, a unix
// socket dialer: whatever the caller's http.Client and Header carry).
//
// What the server does not do is policy: Host-header checks and authentication belong to the caller's middleware;
// only the request-size cap (Server.MaxRequestBytes) lives here because it must answer in JSON-RPC form.
package mcp
