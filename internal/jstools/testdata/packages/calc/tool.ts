// A Pi-extension tool package: a default-exported factory that registers tools with JSON-schema parameters.
import { writeSync } from "node:fs";
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";
import { compute, describe, type Operation } from "./lib/math.js";

interface CalcParams {
  op: Operation;
  a: number;
  b: number;
}

interface TextResult {
  content: { type: "text"; text: string }[];
  details?: Record<string, unknown>;
}

const text = (value: string): TextResult => ({ content: [{ type: "text", text: value }] });

export default function calcExtension(pi: ExtensionAPI): void {
  pi.registerTool({
    name: "calc",
    label: "Calculator",
    description: "Adds or multiplies two numbers.",
    parameters: {
      type: "object",
      properties: {
        op: { type: "string", enum: ["add", "mul"] },
        a: { type: "number" },
        b: { type: "number" },
      },
      required: ["op", "a", "b"],
    },
    async execute(toolCallId: string, params: CalcParams): Promise<TextResult> {
      const value = compute(params.op, params.a, params.b);
      return { ...text(`${params.a} ${describe(params.op)} ${params.b} = ${value}`), details: { toolCallId, value } };
    },
  });

  pi.registerTool({
    name: "explode",
    label: "Explode",
    description: "Always throws.",
    parameters: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
    execute(_toolCallId: string, params: { message: string }): TextResult {
      throw new Error(params.message);
    },
  });

  pi.registerTool({
    name: "emit_output",
    label: "Emit output",
    description: "Saves data as the run's output by writing canonical events to stdout.",
    parameters: { type: "object", properties: { data: { type: "object" } }, required: ["data"] },
    execute(_toolCallId: string, params: { data: Record<string, unknown> }): TextResult {
      process.stdout.write(JSON.stringify({ type: "output.emitted", data: params.data }) + "\n");
      console.log("a plain line that is not an event");
      process.stdout.write(JSON.stringify({ type: "output", data: "legacy, not canonical" }) + "\n");
      writeSync(1, JSON.stringify({ type: "log.written", level: "info", message: "written to fd 1" }) + "\n");
      return text("Output saved");
    },
  });

  // A Pi hook this runtime does not support: reported, not fatal.
  pi.on("session_start", () => undefined);
}
