// Package curl is `appstrate api`: a curl-compatible command line (CLI.md A8) parsed into Options, built into
// one HTTP request on the profile's instance (bearer and pinned org/app injected, foreign hosts refused),
// and run with curl's output, write-out variables, retries, timeouts and exit codes.
package curl
