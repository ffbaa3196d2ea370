export default function broken(pi: { registerTool(tool: unknown): void }): void {
  pi.registerTool({ name: "never_seen", execute: async () => ({ content: [] }) });
  throw new Error("factory failed on purpose");
}
