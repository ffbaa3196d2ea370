// Package llmtest is a scripted fake LLM server speaking the four wire formats of package llm — OpenAI Chat
// Completions, OpenAI Responses, Anthropic Messages and Gemini generateContent — streamed and not. It answers
// a programmed sequence of turns (text, reasoning, tool calls, usage, injected faults), records every request
// it receives, and checks the API key, so tests can drive a whole agent run without network and assert what
// reached the model.
//
// Routing is by path suffix, so any prefix works (a sidecar's "/llm", an OpenAI "/v1"): "…/chat/completions",
// "…/responses", "…/messages", "…/models/{model}:generateContent" and ":streamGenerateContent" (alt=sse for
// server-sent events, a JSON array otherwise).
//
// Script position. The turn answered is the number of assistant turns already in the request's conversation:
// the first call gets Turns[0], the call that carries the answer to it (and the tool results) gets Turns[1],
// and so on. The position is read from the request itself, so any number of concurrent conversations run the
// same script without interleaving, and a resumed conversation continues where it was. Faults are counted per
// conversation and position: a Turn with a Fault answers the fault Fault.Times times, then its normal content
// (so a client that retries a 429 gets the answer). A conversation is identified by its X-Run-Id header when
// present (RunHeader), else by its system prompt and first user message. (A client that rewrites its history,
// e.g. by compaction, moves its position accordingly.)
//
// Several scripts can be served at once: the first whose Match occurs in the system prompt or the first user
// message answers; a script without Match is the fallback.
//
// New starts a server for a test; Serve listens on an address (for a developer "--fake-llm" mode, with Echo
// as a script when nothing better is programmed); the *Server is also an http.Handler (NewHandler).
package llmtest
