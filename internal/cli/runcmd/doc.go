// Package runcmd is `appstrate run` (CLI.md A10): parsing the target and the input and config values, the
// remote mode (trigger the run on the platform, follow its logs over the realtime stream or by polling, print
// the result) and the local mode (register a remote run for its sink, plan the agent with internal/runplan,
// execute it in-process with internal/runner in a temporary workspace — the model through the platform's
// LLM proxy or local credentials, providers through the credential proxy — and report through the signed
// sink). Both modes print the same event stream: human lines, or the JSONL of A10.3 with --json.
package runcmd
