// Package llmproxy is the platform's LLM proxy (API.md §4.14, RUNTIME.md §5): a caller outside the platform
// — `appstrate run` executing an agent on the user's machine — talks to its organization's models through
// `/api/llm-proxy/<api>/…` without ever holding a provider key.
//
// A request names an organization model preset in its `model` field. Forward resolves the preset (enabled,
// of a wire format the route speaks), swaps the preset id for the provider's model name, injects the real key
// the provider's way (Authorization Bearer or x-api-key) and sends the request upstream; only a short list of
// request and response headers crosses the proxy. The answer is streamed back as it arrives (server-sent
// events flushed chunk by chunk) while an llm.Meter reads its token usage; once the body is relayed, one
// llm_usage row with source 'proxy' is recorded, priced with the preset's prices, and tied to the run named by
// X-Run-Id when there is one (which then counts towards that run's cost).
//
// Base URLs of the operator's keys (SYSTEM_PROVIDER_KEYS) are trusted; those an organization configured are
// reached through the outbound guard (no loopback, private or metadata addresses).
package llmproxy
