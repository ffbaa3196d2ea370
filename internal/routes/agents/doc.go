// Package agents serves the agents of the current application and their per-application settings
// (API.md §4.6, §5 items 7, 8 and 22): GET /api/agents, the rich agent detail at GET /api/packages/agents/{scope}/{name}
// (and its {id} alias), /api/agents/{scope}/{name}/{config,model,proxy,app-profile,skills,tools,readiness} and the
// agent's .afps-bundle export GET /api/agents/{scope}/{name}/bundle.
package agents
