// @appstrate/note 1.0.0 — system tool (AFPS tool package, Pi extension contract).
//
// The default export receives the Pi extension API and registers one tool. Results go back to the model;
// canonical run events are written to stdout as one JSON line each, which the runtime forwards to the platform
// (RUNTIME.md §4.1 and §4.4). The Go runner implements this tool natively with the same contract.

const parameters = {
  "type": "object",
  "properties": {
    "content": {
      "type": "string",
      "minLength": 1,
      "maxLength": 2000,
      "description": "The note, at most 2000 characters."
    },
    "scope": {
      "type": "string",
      "enum": [
        "actor",
        "shared"
      ],
      "description": "actor (default): only runs of the same user see it; shared: every run of this agent in the application."
    }
  },
  "required": [
    "content"
  ]
};

export default function (pi) {
  pi.registerTool({
    name: "note",
    label: "Note",
    description: "Save a note to this agent's long-term memory. Later runs can find it with recall_memory; it is not visible in the current run.",
    parameters,
    async execute(_toolCallId, params, _signal) {
      const content = params.content.trim().slice(0, 2000);
      emit({ type: "memory.added", content, ...(params.scope ? { scope: params.scope } : {}) });
      return { content: [{ type: "text", text: "Note saved" }] };
    },
  });
}

function emit(event) {
  process.stdout.write(JSON.stringify({ ...event, timestamp: Date.now() }) + "\n");
}
