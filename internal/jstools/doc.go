// Package jstools hosts third-party tool packages written in TypeScript or JavaScript (RUNTIME.md §4.1, §4.4;
// PACKAGES.md §1.8) for the Go runner, in a Node.js or Bun process.
//
// A tool package is a Pi extension: an ESM module whose default export is a factory that receives an
// extension API and calls registerTool({name, label, description, parameters (JSON Schema), execute}), where
// execute(toolCallId, params, signal, appstrateCtx) returns {content: [{type:"text", text} | {type:"image",
// data, mimeType}], isError?, details?}. Tools report canonical events (output.emitted, log.written, …) by
// writing JSON lines to stdout.
//
// Start bundles each package's entrypoint with esbuild's Go API into one ESM file in a scratch directory
// (TypeScript is transpiled, relative imports of the package are inlined; no npm and no build step at run
// time), then starts one host process — node, or bun when node is not on PATH — running host.mjs, a script
// embedded in the binary. The imports upstream bundles keep external (@mariozechner/pi-ai,
// @mariozechner/pi-coding-agent) and TypeBox resolve to shim.mjs, a stand-in giving TypeBox's Type builder
// and pi-ai's StringEnum. Other bare imports must be bundled into the package; a package that cannot be
// bundled, imported or initialised is reported in LoadErrors and the others still load.
//
// Go and the host speak JSON lines over two pipes of their own (requests on the host's fd 3, replies on its
// fd 4; the exact messages are listed at the top of host.mjs), so whatever a tool prints cannot corrupt the
// protocol: the host re-routes process.stdout.write into the reply stream, in order with the replies, and
// Go also reads the host's real stdout for tools that write to fd 1 directly. Lines that are canonical events
// are sent on Events; other output is logged. Every event a tool wrote through process.stdout before its call
// resolved is on the Events channel before Call returns.
//
// A tool that throws gives an error Result "Error in extension '<package>' tool '<name>': <message>" and the
// host keeps running. Each call has a timeout (its AbortSignal fires when the timeout or the caller's context
// ends it); results, stdout lines and bundles have size limits. The host runs in its own process group,
// killed on Close (and, on Linux, when the Go process dies). After the host dies, every call fails with an
// error that wraps ErrHostExited and says how it ended. Without node or bun on PATH, Start fails with an error
// matching ErrNoJSRuntime that names the missing runtimes.
package jstools
