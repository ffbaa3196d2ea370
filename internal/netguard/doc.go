// Package netguard protects outbound HTTP from server-side request forgery: a Policy resolves each host once,
// refuses the request when any resolved address is internal (private, loopback, link-local, cloud metadata,
// CGNAT, unspecified, multicast, broadcast, reserved, or an IPv4-mapped/embedded form of those) and dials the
// checked address itself, so a second DNS answer cannot rebind the connection. CheckRedirect re-validates
// every redirect hop. Tests plug a Resolver instead of touching DNS.
package netguard
