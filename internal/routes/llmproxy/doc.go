// Package llmproxy serves the three LLM proxy routes of API.md §4.14 — POST
// /api/llm-proxy/{openai-completions/v1/chat/completions | anthropic-messages/v1/messages |
// mistral-conversations/v1/chat/completions} — over internal/llmproxy: API keys and OAuth access tokens only
// (cookie sessions get 403), llm-proxy:call, LLM_PROXY_LIMITS.rate_per_min per caller with RateLimit headers,
// and the provider's answer streamed through as it arrives.
package llmproxy
