// Package apikeys serves the API key routes (API.md §4.4): list the grantable scopes, list, create and
// revoke the keys of the current application. Rules and SQL live in auth.APIKeys.
package apikeys
