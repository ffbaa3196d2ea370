// @appstrate/output 1.0.0 — system tool (AFPS tool package, Pi extension contract).
//
// The default export receives the Pi extension API and registers one tool. Results go back to the model;
// canonical run events are written to stdout as one JSON line each, which the runtime forwards to the platform
// (RUNTIME.md §4.1 and §4.4). The Go runner implements this tool natively with the same contract.

const parameters = {
  "type": "object",
  "properties": {
    "data": {
      "type": "object",
      "description": "Output data, merged into what previous calls recorded."
    }
  },
  "required": [
    "data"
  ]
};

export default function (pi) {
  pi.registerTool({
    name: "output",
    label: "Output",
    description: "Record structured output for this run. Call it at least once; the data of successive calls is deep-merged into one object.",
    parameters,
    async execute(_toolCallId, params, _signal) {
      emit({ type: "output", data: params.data });
      return { content: [{ type: "text", text: "Output recorded" }], details: { data: params.data } };
    },
  });
}

function emit(event) {
  process.stdout.write(JSON.stringify({ ...event, timestamp: Date.now() }) + "\n");
}
