export default (pi) => {
  pi.registerTool({ name: "calc", description: "A second calc.", execute: async () => "duplicate" });
};
