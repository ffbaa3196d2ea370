// @appstrate/log 1.0.0 — system tool (AFPS tool package, Pi extension contract).
//
// The default export receives the Pi extension API and registers one tool. Results go back to the model;
// canonical run events are written to stdout as one JSON line each, which the runtime forwards to the platform
// (RUNTIME.md §4.1 and §4.4). The Go runner implements this tool natively with the same contract.

import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";

const parameters = {
  "type": "object",
  "properties": {
    "level": {
      "type": "string",
      "enum": [
        "info",
        "warn",
        "error"
      ],
      "description": "Severity of the message."
    },
    "message": {
      "type": "string",
      "description": "The message, one short sentence."
    }
  },
  "required": [
    "level",
    "message"
  ]
};

export default function (pi: ExtensionAPI) {
  pi.registerTool({
    name: "log",
    label: "Log",
    description: "Write a progress message to the run log, visible to the user while the run executes.",
    parameters,
    async execute(_toolCallId: string, params: { level: "info" | "warn" | "error"; message: string }, _signal?: AbortSignal) {
      emit({ type: "log.written", level: params.level, message: params.message });
      return { content: [{ type: "text", text: `Logged [${params.level}]: ${params.message}` }] };
    },
  });
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ...event, timestamp: Date.now() }) + "\n");
}
