// Package models owns an organization's language models (API.md §4.12, §7): the model-provider credentials
// (API keys encrypted at rest, never returned), the org models that use them with their limits and prices, the
// read-only system models of SYSTEM_PROVIDER_KEYS, the default model, the connection test (one tiny request
// through package llm) and Resolve, which turns a model id into everything a run needs to call it.
package models
