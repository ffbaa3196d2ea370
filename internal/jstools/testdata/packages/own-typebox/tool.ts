import { Type } from "typebox";

export default (pi: { registerTool(tool: unknown): void }) => {
  pi.registerTool({
    name: "own",
    parameters: { type: "object", properties: { s: Type.String() } },
    execute: async () => "own",
  });
};
