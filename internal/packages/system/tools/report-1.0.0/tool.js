// @appstrate/report 1.0.0 — system tool (AFPS tool package, Pi extension contract).
//
// The default export receives the Pi extension API and registers one tool. Results go back to the model;
// canonical run events are written to stdout as one JSON line each, which the runtime forwards to the platform
// (RUNTIME.md §4.1 and §4.4). The Go runner implements this tool natively with the same contract.

const parameters = {
  "type": "object",
  "properties": {
    "content": {
      "type": "string",
      "description": "Markdown to append to the report."
    }
  },
  "required": [
    "content"
  ]
};

export default function (pi) {
  pi.registerTool({
    name: "report",
    label: "Report",
    description: "Append a Markdown section to the run's report, the human-readable summary shown with the result.",
    parameters,
    async execute(_toolCallId, params, _signal) {
      emit({ type: "report.appended", content: params.content });
      return { content: [{ type: "text", text: "Report updated" }] };
    },
  });
}

function emit(event) {
  process.stdout.write(JSON.stringify({ ...event, timestamp: Date.now() }) + "\n");
}
