// @appstrate/output 2.0.0 — system tool (AFPS tool package, Pi extension contract).
//
// The default export receives the Pi extension API and registers one tool. Results go back to the model;
// canonical run events are written to stdout as one JSON line each, which the runtime forwards to the platform
// (RUNTIME.md §4.1 and §4.4). The Go runner implements this tool natively with the same contract.

import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";

// OUTPUT_SCHEMA (set by the platform when the agent declares an output schema) becomes the `data` parameter.
const outputSchema: any = (() => {
  try {
    return process.env.OUTPUT_SCHEMA ? JSON.parse(process.env.OUTPUT_SCHEMA) : undefined;
  } catch {
    return undefined;
  }
})();
const parameters: any = {
  "type": "object",
  "properties": {
    "data": {
      "type": "object",
      "description": "The final result. When the agent declares an output schema, this parameter takes that schema."
    }
  },
  "required": [
    "data"
  ]
};
if (outputSchema) parameters.properties.data = outputSchema;

export default function (pi: ExtensionAPI) {
  pi.registerTool({
    name: "output",
    label: "Output",
    description: "Return the final structured result of this run. Call it exactly once, when the task is done; a new call replaces the previous result. When the agent declares an output schema, data must match it.",
    parameters,
    async execute(_toolCallId: string, params: { data: Record<string, unknown> }, _signal?: AbortSignal) {
      const errors = outputSchema ? validate(outputSchema, params.data, "") : [];
      if (errors.length > 0) {
        const text = "Output validation failed:\n" + errors.map((e) => "  - " + e).join("\n") +
          "\n\nPlease call output() again with data that matches the schema.";
        return { content: [{ type: "text", text }], isError: true, details: { errors } };
      }
      emit({ type: "output.emitted", data: params.data });
      return { content: [{ type: "text", text: "Output recorded" }], details: { data: params.data } };
    },
  });
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ...event, timestamp: Date.now() }) + "\n");
}

// validate is a small JSON Schema subset (type, required, properties, additionalProperties: false, enum, items,
// minLength/maxLength, minimum/maximum) run before emitting, so the model can fix its call. The platform validates
// the final output again, with the full vocabulary.
function validate(schema: any, value: unknown, path: string): string[] {
  if (!schema || typeof schema !== "object") return [];
  const errors: string[] = [];
  const at = path || "/";
  const types: string[] | undefined = schema.type === undefined ? undefined : ([] as string[]).concat(schema.type);
  if (types && !types.some((t) => is(t, value))) return [`${at} must be ${types.join(" or ")}`];
  if (Array.isArray(schema.enum) && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${at} must be one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && value.length < schema.minLength) errors.push(`${at} is too short`);
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength) errors.push(`${at} is too long`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errors.push(`${at} must be >= ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) errors.push(`${at} must be <= ${schema.maximum}`);
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in obj)) errors.push(`${at} must have required property '${key}'`);
    const props = schema.properties ?? {};
    for (const [key, v] of Object.entries(obj)) {
      if (key in props) errors.push(...validate(props[key], v, `${path}/${key}`));
      else if (schema.additionalProperties === false) errors.push(`${at} must NOT have additional property '${key}'`);
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...validate(schema.items, v, `${path}/${i}`)));
  return errors;
}

function is(type: string, v: unknown): boolean {
  switch (type) {
    case "object": return v !== null && typeof v === "object" && !Array.isArray(v);
    case "array": return Array.isArray(v);
    case "integer": return Number.isInteger(v);
    case "null": return v === null;
    default: return typeof v === type;
  }
}
