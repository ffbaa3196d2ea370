// A factory whose promise never settles.
export default (pi) => {
  pi.registerTool({ name: "never_registered", execute: async () => "never" });
  return new Promise(() => {});
};
