// Package cli is the command tree of the appstrate binary (cobra): the server side (`serve`, `secrets`,
// `package`, `version`) and the command-line client of CLI.md (`login`, `logout`, `whoami`, `token`, `org`,
// `app`, `connections`, `models`, `api`, `openapi`, `completion`). Commands parse flags and call services or
// the client packages (profile, apiclient, curl); they hold no business rules.
package cli
