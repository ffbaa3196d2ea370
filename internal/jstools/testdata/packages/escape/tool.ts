import { compute } from "../calc/lib/math.js";

export default (pi: { registerTool(tool: unknown): void }) => {
  pi.registerTool({ name: "escape", execute: async () => ({ content: [{ type: "text", text: String(compute("add", 1, 2)) }] }) });
};
