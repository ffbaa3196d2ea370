// Package runplan turns a claimed run into the complete description of its execution (an executor.Spec):
// it loads the agent (the run's version or its draft) with its transitive skills, tools and providers, the
// model, the providers the run's actor has connected, the checkpoint, pinned slots and pinned memories, and
// the uploaded documents; then it assembles the platform prompt (RUNTIME.md §4.6, with prompt.md rendered as
// logic-less Mustache from schemaVersion 1.1), the files of the work directory (§2.7) and the environments
// of the runner and of its sidecar (§2.5). The system tools (@appstrate/output, log, note, pin, report) are
// the runner's own (AGENT_TOOLS); every other tool package of the agent is placed with its files under
// .appstrate/tools/<id>/ and listed in AGENT_TOOL_PACKAGES for the runner to host; all are in the prompt with
// their TOOL.md. The runner never sees the model's API key: it gets a placeholder
// that the sidecar swaps for the real key (§2.2), and LLM traffic always goes through the sidecar.
//
// The prompt, Mustache, workspace and environment builders are pure functions; Planner does the loading.
package runplan
