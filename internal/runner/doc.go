// Package runner is the agent runtime (RUNTIME.md §4): the Go agent loop that `appstrate runner` executes inside
// a run's sandbox, and that `appstrate run` calls in-process for local runs.
//
// Run drives one conversation with the model (internal/llm, streamed): the platform prompt is the system
// prompt and, for upstream parity, the first user message too; the model's tool calls run one after another
// and their results go back until the model stops calling tools, MaxTurns is reached or the context ends.
// Every observable step becomes a canonical event on an EventSink (internal/sink's Client in production) and
// the run ends with one finalize carrying the aggregate sink.RunResult (memories, pinned slots, output, report,
// logs, token usage and cost).
//
// Tools the model sees:
//
//   - workspace tools confined to WORKSPACE_DIR through an os.Root (paths that leave it — "..", absolute paths
//     elsewhere, symlinks pointing out — are refused): read, write, edit, ls, grep, find, and bash (bash -c in
//     the workspace, its own process group, output capped, killed with its group on timeout);
//   - platform tools that only emit events: output (validated against OUTPUT_SCHEMA), log, note, pin, report —
//     those listed in AGENT_TOOLS; add_memory and set_state are hidden aliases of note and pin("checkpoint");
//   - the sidecar's MCP tools when SIDECAR_URL is set: run_history and recall_memory, forwarded as is, and
//     provider_call when providers are connected. provider_call takes the sidecar's arguments plus bodies and
//     multipart parts read from workspace files ({fromFile}) and responseMode {toFile, maxInlineBytes (≤ 1 MB)},
//     and answers JSON {status, headers, body} (RUNTIME.md §4.4): body is {kind:"text", text, truncated?}, or
//     {kind:"file", path, size, mimeType, sha256} for a response the sidecar stored (its resource link is
//     read with resources/read), a text over maxInlineBytes (256 KB by default) or with toFile — saved to
//     responses/<toolCallId>.bin — or {kind:"inline", data, encoding, mimeType, size} for a stored binary
//     within an explicit maxInlineBytes. Status ≥ 400 is an error result; a call the sidecar refused has 502;
//   - the tools of the agent's third-party tool packages (AGENT_TOOL_PACKAGES), hosted in node or bun by
//     internal/jstools: each call carries its tool call id, and the tool context (appstrateCtx.providerCall,
//     readResource) goes to the sidecar. The canonical events the tools write on stdout are folded into the
//     result like the platform tools' (output.emitted, log.written, report.appended, memory.added,
//     pinned.set, with the same checks) and forwarded; progress and error events are forwarded; metrics are
//     dropped. A package that cannot load, or a tool named like a built-in one, is reported as an
//     appstrate.error and the run goes on; without a JavaScript runtime the run fails at once, naming it.
//
// At finalize, an output with a top-level "state" pins it as the checkpoint when the run pinned none (the
// seed vocabulary). Before each model call, when the conversation's estimated size (characters / 3.5) passes
// 90 % of MODEL_CONTEXT_WINDOW − MODEL_MAX_TOKENS, old tool results are cut to their first KB with a note,
// oldest first, the latest ones only if that is not enough.
//
// # Environment of `appstrate runner` (LoadEnv)
//
// Required: AGENT_RUN_ID; AGENT_PROMPT or AGENT_PROMPT_FILE (a path, relative to the workspace allowed — prompts
// can exceed execve's 128 KiB per-string limit); MODEL_API (one of the nine shapes of RUNTIME.md §2.5 —
// anthropic-messages, openai-completions, openai-responses, openai-codex-responses, azure-openai-responses,
// mistral-conversations and google-generative-ai are spoken, plus openai-chat; google-vertex and
// bedrock-converse-stream are refused); MODEL_ID; APPSTRATE_SINK_URL, APPSTRATE_SINK_FINALIZE_URL (http(s));
// APPSTRATE_SINK_SECRET (≥ 16 characters).
//
// Optional: MODEL_BASE_URL, MODEL_API_KEY, MODEL_INPUT (JSON array of "text"/"image"), MODEL_CONTEXT_WINDOW
// (128000), MODEL_MAX_TOKENS (16384), MODEL_REASONING, MODEL_COST (JSON {input, output, cacheRead, cacheWrite}
// in USD per million tokens), MODEL_RETRY_ENABLED (true: 2 retries on 429/5xx/network errors, honouring
// Retry-After), OUTPUT_SCHEMA, CONNECTED_PROVIDERS (comma list), AGENT_TOOLS (JSON array; unset = all five
// platform tools), AGENT_TOOL_PACKAGES (JSON array of {id, dir (in the workspace), entrypoint}), WORKSPACE_DIR (the working directory), APPSTRATE_HEARTBEAT_INTERVAL_MS (30000), TRACEPARENT,
// SIDECAR_URL, SIDECAR_SOCKET (a unix socket every request to the SIDECAR_URL host is dialled through — MCP and
// the model's base URL), SIDECAR_TOKEN (sent as X-Sidecar-Token on /llm and /mcp), APPSTRATE_MCP_CONNECT_DEADLINE_MS
// (60000), MAX_TURNS (200).
//
// Every problem of the environment is collected and printed at once on stderr; the exit code is then 1. After
// a finalize the exit code is 0 for a run that ended normally and 1 for a failed or cancelled one. SIGTERM and
// SIGINT stop the loop and finalize the run as cancelled.
package runner
