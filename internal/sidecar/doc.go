// Package sidecar is the per-run process that holds what the agent must never see (RUNTIME.md §3): the real
// LLM key and the provider credentials. The agent (`appstrate runner`) talks to it over HTTP, on a unix socket
// or a loopback/internal port:
//
//   - GET /health — readiness, and the address of the forward proxy when one is served;
//   - ALL /llm/* — a streaming reverse proxy to the model's base URL that swaps the placeholder key for the real
//     one and meters token usage from the bytes it relays, reporting it to the platform
//     (POST /internal/llm-usage): the platform bills what the sidecar saw, not what the agent claims;
//   - POST /mcp — a stateless MCP server (internal/mcp) with the provider_call, run_history and recall_memory
//     tools, and resources/read for provider responses too large to inline (an in-memory blob store);
//   - POST /sink/events, /sink/events/finalize, /sink/events/heartbeat — a relay to this run's sink on the
//     platform (APPSTRATE_SINK_URL, APPSTRATE_SINK_FINALIZE_URL), which the executors give their runners: the
//     runner's signed requests pass through unchanged (signature headers and body), only to those three URLs,
//     and a finalize waits (up to 10 s) until the usage of every LLM request relayed so far is reported, so
//     the platform prices the run completely.
//
// provider_call runs the credential pipeline of RUNTIME.md §3.4 with internal/credentials (placeholders,
// authorizedUris, header injection) and internal/netguard (SSRF checks on resolved addresses, every redirect
// hop re-checked). When SIDECAR_TOKEN is set, /llm and /mcp require it (upstream left /mcp open, §7.3).
//
// Configuration comes from the environment only (LoadConfig); Run binds the listeners, logs "sidecar ready"
// and serves until its context ends.
package sidecar
