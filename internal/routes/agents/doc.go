// Package agents serves the agents of the current application and their per-application settings
// (API.md §4.6, §5 items 7 and 8): GET /api/agents, the rich agent detail at GET /api/packages/agents/{scope}/{name}
// (and its {id} alias), and /api/agents/{scope}/{name}/{config,model,proxy,app-profile,skills,tools,readiness}.
package agents
