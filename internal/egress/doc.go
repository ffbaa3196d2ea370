// Package egress is the forward proxy of a run's sidecar: the only route to the outside for the commands an
// agent runs inside a network-isolated sandbox (bubblewrap, Docker). It speaks plain HTTP proxying
// (absolute-URI requests) and CONNECT tunnels (RUNTIME.md §3.5) and fixes the upstream weak spots listed in
// RUNTIME.md §7.3:
//
//   - destinations are checked on their resolved addresses, at dial time, through a netguard.Policy: the name
//     is resolved once, every address is checked, and the checked address is what gets dialled (no second
//     resolution, so DNS rebinding cannot swap it);
//   - the platform is not whitelisted as a whole host: over plain HTTP only the paths in
//     Config.AllowedPlatformPaths (the run's own sink endpoints) are forwarded. When the platform URL is https,
//     a CONNECT to exactly its host:port is allowed, and the path cannot be checked inside the TLS tunnel: the
//     platform's own authentication (the run's sink secret) is then the only guard of other endpoints;
//   - a refused destination answers 403 "Blocked: internal network" whether the name is internal, private,
//     or does not resolve at all, so a refusal does not tell whether a host exists; refusals are logged.
//
// Hop-by-hop headers are stripped both ways and Proxy-Authorization is never forwarded (the proxy sets its
// own for a chained upstream proxy, Config.Upstream). With a chained proxy the destination is still resolved
// and checked here first, but the chained proxy connects by name and resolves it again: past that hop the
// operator's proxy policy is what holds. Bodies and tunnels are streamed; tunnels close after
// Config.IdleTimeout without traffic in either direction; request headers are capped at
// Config.MaxHeaderBytes. Serve closes the listener, finishes in-flight requests and closes every tunnel when
// its context ends.
package egress
