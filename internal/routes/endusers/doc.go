// Package endusers serves the end-user routes (API.md §4.5): create, list (cursor pagination), get, update
// and delete the end-users of the current application. Rules and SQL live in tenancy.EndUsers.
package endusers
