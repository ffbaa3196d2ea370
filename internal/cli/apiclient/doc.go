// Package apiclient is the CLI's HTTP client for an Appstrate instance: the instance URL policy, the RFC 8628
// device flow of `appstrate login` (API.md §2.3), and authenticated requests that inject the bearer and the
// pinned X-Org-Id / X-Application-Id, refresh the access token silently (30 s before expiry, and once on a
// 401) under the profile store's cross-process lock, and turn problem+json answers into errors that show
// the server's detail and code.
package apiclient
