// Package llm talks to language models over their HTTP wire formats, without vendor SDKs.
//
// It defines one provider-neutral conversation model (Request, Message, Part, Response, Usage) and four
// clients that translate it to and from the wire: OpenAI Chat Completions (any compatible endpoint, local ones
// included), OpenAI Responses, Anthropic Messages and Gemini generateContent, each streaming or not and each with
// tool calling. Errors from the providers are typed (*APIError) and every failure can be classified for the model
// "test connection" route (ErrorCode).
//
// The package also meters token usage from raw response bodies, independently of the clients (MeterResponse,
// NewMeter): the sidecar's LLM reverse proxy observes the bytes it relays and is the source of truth for usage
// and cost (Cost).
//
// Subpackage llmtest is a scripted fake server speaking the four wire formats.
package llm
