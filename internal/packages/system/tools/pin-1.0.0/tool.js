// @appstrate/pin 1.0.0 — system tool (AFPS tool package, Pi extension contract).
//
// The default export receives the Pi extension API and registers one tool. Results go back to the model;
// canonical run events are written to stdout as one JSON line each, which the runtime forwards to the platform
// (RUNTIME.md §4.1 and §4.4). The Go runner implements this tool natively with the same contract.

const parameters = {
  "type": "object",
  "properties": {
    "key": {
      "type": "string",
      "pattern": "^[a-z0-9_]+$",
      "minLength": 1,
      "maxLength": 64,
      "description": "Slot name: lowercase letters, digits and underscores. checkpoint is the carry-over state."
    },
    "content": {
      "description": "Any JSON value (at most 64 KB once serialised)."
    },
    "scope": {
      "type": "string",
      "enum": [
        "actor",
        "shared"
      ],
      "description": "actor (default): only runs of the same user; shared: every run of this agent in the application."
    }
  },
  "required": [
    "key",
    "content"
  ]
};

export default function (pi) {
  pi.registerTool({
    name: "pin",
    label: "Pin",
    description: "Pin a value under a key; the next runs of this agent see every pinned slot in their prompt. The key checkpoint holds the state to resume from.",
    parameters,
    async execute(_toolCallId, params, _signal) {
      if (!/^[a-z0-9_]{1,64}$/.test(params.key)) {
        return { content: [{ type: "text", text: "Invalid key: use 1 to 64 lowercase letters, digits or underscores" }], isError: true };
      }
      emit({ type: "pinned.set", key: params.key, content: params.content, ...(params.scope ? { scope: params.scope } : {}) });
      return { content: [{ type: "text", text: `Pinned ${params.key}` }] };
    },
  });
}

function emit(event) {
  process.stdout.write(JSON.stringify({ ...event, timestamp: Date.now() }) + "\n");
}
