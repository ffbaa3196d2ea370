// Package credentials holds the credential-injection rules shared by the run sidecar and the public
// credential proxy (PACKAGES.md §4.1–§4.2, RUNTIME.md §3.4): which URLs a provider's credentials may be sent
// to (authorizedUris globs, allowAllUris), how stored credentials are materialised (transforms, field
// aliases), how `{{field}}` placeholders are substituted into the target URL, headers and body, and which
// header carries the secret. Everything here is pure: no I/O, no network. SSRF protection of the resolved
// address is internal/netguard's job, and callers use both.
package credentials
