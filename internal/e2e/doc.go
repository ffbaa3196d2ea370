// Package e2e holds end-to-end tests of the built binary: a real `appstrate serve` process on SQLite, real
// runners and sidecars started by the executors, and the scripted fake LLM of internal/llm/llmtest as the
// only stand-in. They drive the platform through its public HTTP API, as a user would.
package e2e
