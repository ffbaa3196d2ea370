// Package activate serves the browser side of the CLI device flow (API.md §2.3): the server-rendered /activate
// pages where a signed-in user enters or confirms a user code and approves or denies it, protected by a CSRF
// token bound to the session, with the approval rate limits. It also serves a minimal /auth/login form (sign-in
// with email and password, then back to a same-origin returnTo) because the dashboard's own login page does
// not exist in this server yet.
package activate
