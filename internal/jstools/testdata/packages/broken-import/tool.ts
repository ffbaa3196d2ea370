import leftPad from "left-pad";

export default (pi: { registerTool(tool: unknown): void }) => {
  pi.registerTool({ name: "pad", execute: async () => ({ content: [{ type: "text", text: leftPad("x", 3) }] }) });
};
