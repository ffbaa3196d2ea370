// The JavaScript side of internal/jstools: loads bundled Pi-extension tool packages and serves the Go runner
// over a JSON-lines protocol. Requests arrive on fd 3, replies and notices leave on fd 4, so nothing a tool
// prints can corrupt the protocol. Runs unchanged on Node.js (>= 18) and Bun.
//
// Go -> host (fd 3):
//   {"id":N,"op":"load","packages":[{"index","id","file"}],"limits":{maxResultBytes,maxLineBytes,loadTimeoutMs}}
//       -> {"id":N,"result":{"loadErrors":[{"index","package","message","stack"}],"runtime":"node v20.1.0"}}
//   {"id":N,"op":"list"} -> {"id":N,"result":{"tools":[{"package","name","label","description","parameters"}]}}
//   {"id":N,"op":"call","tool","toolCallId","params"}
//       -> {"id":N,"result":{"content":[...],"isError"?,"details"?}} | {"id":N,"error":{"message","stack"}}
//   {"op":"cancel","id":N}                      aborts the AbortSignal of call N (no reply)
//   {"op":"ctxresult","id":K,"result"|"error"}  answers a tool-context request K
// host -> Go (fd 4), besides replies:
//   {"stdout":"<line>","truncated"?:bytes}     a line a tool wrote with process.stdout.write / console.log
//   {"log":{"level","message"}}                 a notice of the host (unsupported hooks, stray errors)
//   {"ctx":{"id":K,"call":N,"method","args"}}   a call of the tool context (providerCall, readResource)
// The host exits when fd 3 reaches end of file.

import fs from "node:fs";
import net from "node:net";
import readline from "node:readline";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const REQUEST_FD = 3;
const REPLY_FD = 4;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const limits = { maxResultBytes: 4 << 20, maxLineBytes: 1 << 20, loadTimeoutMs: 30000 };
const registry = new Map(); // tool name -> {pkg, name, label, description, parameters, execute}
const running = new Map(); // call id -> AbortController
const ctxWaiters = new Map(); // ctx request id -> {resolve, reject}
let nextCtxId = 1;

// Bundled CommonJS dependencies call require() for Node built-ins; esbuild's shim looks for a global one.
globalThis.require ??= createRequire(import.meta.url);

// Node serves pipe fds best as sockets (on its event loop); Bun's sockets do not read inherited pipes, but its
// fs streams do.
function openPipe(fd, writable) {
  if (typeof Bun === "undefined") {
    try {
      return new net.Socket({ fd, readable: !writable, writable });
    } catch {
      // not a pipe or a socket: fall back to fs streams
    }
  }
  return writable ? fs.createWriteStream(null, { fd }) : fs.createReadStream(null, { fd });
}

const replies = openPipe(REPLY_FD, true);
replies.on("error", () => process.exit(70));

function send(message) {
  replies.write(JSON.stringify(message) + "\n");
}

function cut(text, chars) {
  return typeof text === "string" && text.length > chars ? text.slice(0, chars) + "…" : text;
}

function log(level, message) {
  send({ log: { level, message: cut(message, 8192) } });
}

function errorMessage(err) {
  let message;
  if (err instanceof Error) message = err.message || err.name || "Error";
  else {
    try {
      message = typeof err === "string" ? err : JSON.stringify(err) ?? String(err);
    } catch {
      message = String(err);
    }
  }
  return cut(message, 16384);
}

function errorStack(err) {
  return err instanceof Error && typeof err.stack === "string" ? cut(err.stack, 16384) : undefined;
}

// Tools report canonical events by writing JSON lines to stdout: every complete line goes to Go, in order
// with the replies, which tells events from other output.
let partialLine = "";
function forwardLine(line) {
  const bytes = Buffer.byteLength(line);
  if (bytes > limits.maxLineBytes) {
    const head = Buffer.from(line).subarray(0, Math.min(limits.maxLineBytes, 4096)).toString();
    send({ stdout: head, truncated: bytes });
    return;
  }
  send({ stdout: line });
}
process.stdout.write = function write(chunk, encoding, callback) {
  if (typeof encoding === "function") callback = encoding;
  partialLine += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
  let newline;
  while ((newline = partialLine.indexOf("\n")) >= 0) {
    forwardLine(partialLine.slice(0, newline));
    partialLine = partialLine.slice(newline + 1);
  }
  if (partialLine.length > limits.maxLineBytes) {
    forwardLine(partialLine);
    partialLine = "";
  }
  if (typeof callback === "function") process.nextTick(callback);
  return true;
};

process.on("uncaughtException", (err) => log("error", `uncaught exception in a tool: ${errorMessage(err)}`));
process.on("unhandledRejection", (err) => log("error", `unhandled promise rejection in a tool: ${errorMessage(err)}`));

// The extension API handed to a package's factory: registerTool, and harmless no-ops (reported once) for the
// other hooks of a Pi extension.
function extensionAPI(pkgId, tools, state) {
  const reported = new Set();
  const api = {
    registerTool(def) {
      if (state.sealed) {
        log("warn", `extension '${pkgId}' called registerTool after loading; ignored`);
        return;
      }
      tools.push(toolDefinition(pkgId, def));
    },
  };
  return new Proxy(api, {
    get(target, prop) {
      if (prop in target || typeof prop === "symbol" || prop === "then" || prop === "toJSON") return target[prop];
      return (..._args) => {
        if (!reported.has(prop)) {
          reported.add(prop);
          log("warn", `extension '${pkgId}' called unsupported hook '${String(prop)}'; ignored`);
        }
        return undefined;
      };
    },
  });
}

function toolDefinition(pkgId, def) {
  if (def === null || typeof def !== "object") throw new TypeError("registerTool expects a tool definition object");
  const { name, label, description, parameters, execute } = def;
  if (typeof name !== "string" || !TOOL_NAME.test(name)) {
    throw new TypeError(`registerTool: name must match ${TOOL_NAME} (got ${JSON.stringify(name)})`);
  }
  if (typeof execute !== "function") throw new TypeError(`registerTool: tool '${name}' has no execute function`);
  if (description !== undefined && typeof description !== "string") {
    throw new TypeError(`registerTool: tool '${name}' has a description that is not a string`);
  }
  let schema = { type: "object", properties: {} };
  if (parameters !== undefined) {
    if (parameters === null || typeof parameters !== "object" || Array.isArray(parameters)) {
      throw new TypeError(`registerTool: tool '${name}' has parameters that are not a JSON schema object`);
    }
    schema = JSON.parse(JSON.stringify(parameters)); // plain JSON: drops TypeBox's symbol keys
  }
  return {
    pkg: pkgId,
    name,
    label: typeof label === "string" && label !== "" ? label : name,
    description: description ?? "",
    parameters: schema,
    execute,
  };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function loadPackage(pkg) {
  const tools = [];
  const state = { sealed: false };
  try {
    const mod = await withTimeout(import(pathToFileURL(pkg.file).href), limits.loadTimeoutMs, "importing the module");
    const factory = mod.default;
    if (typeof factory !== "function") {
      throw new TypeError("the entrypoint has no default-exported factory function");
    }
    await withTimeout(
      Promise.resolve(factory(extensionAPI(pkg.id, tools, state))),
      limits.loadTimeoutMs,
      "the extension factory",
    );
    const names = new Set();
    for (const tool of tools) {
      const owner = registry.get(tool.name);
      if (owner) throw new Error(`tool '${tool.name}' is already registered by extension '${owner.pkg}'`);
      if (names.has(tool.name)) throw new Error(`tool '${tool.name}' is registered twice`);
      names.add(tool.name);
    }
    if (tools.length === 0) log("warn", `extension '${pkg.id}' registered no tool`);
    for (const tool of tools) registry.set(tool.name, tool);
    return undefined;
  } finally {
    state.sealed = true;
  }
}

async function load(request) {
  Object.assign(limits, request.limits ?? {});
  const loadErrors = [];
  for (const pkg of request.packages ?? []) {
    try {
      await loadPackage(pkg);
    } catch (err) {
      loadErrors.push({ index: pkg.index, package: pkg.id, message: errorMessage(err), stack: errorStack(err) });
    }
  }
  const runtime = typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`;
  return { loadErrors, runtime };
}

function list() {
  return {
    tools: [...registry.values()].map(({ pkg, name, label, description, parameters }) => ({
      package: pkg,
      name,
      label,
      description,
      parameters,
    })),
  };
}

function contentPart(part, index) {
  if (part === null || typeof part !== "object") throw new TypeError(`content[${index}] is not an object`);
  if (part.type === "text") {
    if (typeof part.text !== "string") throw new TypeError(`content[${index}].text is not a string`);
    return { type: "text", text: part.text };
  }
  if (part.type === "image") {
    if (typeof part.data !== "string" || typeof part.mimeType !== "string") {
      throw new TypeError(`content[${index}] (image) needs string data and mimeType`);
    }
    return { type: "image", data: part.data, mimeType: part.mimeType };
  }
  throw new TypeError(`content[${index}] has unsupported type ${JSON.stringify(part.type)}`);
}

function toolResult(value) {
  if (typeof value === "string") return { content: [{ type: "text", text: value }] };
  if (value === null || typeof value !== "object" || !Array.isArray(value.content)) {
    throw new TypeError("execute must return {content: [{type: \"text\", text}, ...]}");
  }
  const result = { content: value.content.map(contentPart) };
  if (value.isError) result.isError = true;
  if (value.details !== undefined) result.details = value.details;
  return result;
}

// The fourth argument of execute: the Appstrate tool context, callable as Pi's onUpdate (ignored).
function toolContext(callId) {
  const ask = (method, args) =>
    new Promise((resolve, reject) => {
      const id = nextCtxId++;
      const line = JSON.stringify({ ctx: { id, call: callId, method, args } });
      if (Buffer.byteLength(line) > limits.maxResultBytes) {
        reject(new RangeError(`${method}: the arguments are too large (limit ${limits.maxResultBytes} bytes)`));
        return;
      }
      ctxWaiters.set(id, { resolve, reject });
      replies.write(line + "\n");
    });
  return Object.assign(function onUpdate() {}, {
    providerCall: (providerId, args) => ask("providerCall", [providerId, args ?? {}]),
    readResource: (uri) => ask("readResource", [uri]),
  });
}

async function call(request, controller) {
  try {
    const tool = registry.get(request.tool);
    if (!tool) throw new Error(`unknown tool '${request.tool}'`);
    if (controller.signal.aborted) throw new Error("the call was cancelled before it started");
    const value = await tool.execute(request.toolCallId, request.params ?? {}, controller.signal, toolContext(request.id));
    const line = JSON.stringify({ id: request.id, result: toolResult(value) });
    const bytes = Buffer.byteLength(line);
    if (bytes > limits.maxResultBytes) {
      throw new RangeError(`the result is too large (${bytes} bytes, limit ${limits.maxResultBytes})`);
    }
    replies.write(line + "\n");
  } catch (err) {
    send({ id: request.id, error: { message: errorMessage(err), stack: errorStack(err) } });
  } finally {
    running.delete(request.id);
  }
}

function settleContext(request) {
  const waiter = ctxWaiters.get(request.id);
  if (!waiter) return;
  ctxWaiters.delete(request.id);
  if (request.error) waiter.reject(new Error(request.error.message ?? "tool context call failed"));
  else waiter.resolve(request.result);
}

let loaded = Promise.resolve();
async function handle(request) {
  switch (request.op) {
    case "load":
      loaded = load(request);
      send({ id: request.id, result: await loaded });
      return;
    case "list":
      await loaded;
      send({ id: request.id, result: list() });
      return;
    case "call": {
      // Registered before any await, so that a cancel right behind the call finds it.
      const controller = new AbortController();
      running.set(request.id, controller);
      await loaded;
      await call(request, controller);
      return;
    }
    case "cancel":
      running.get(request.id)?.abort(new DOMException("The tool call was cancelled", "AbortError"));
      return;
    case "ctxresult":
      settleContext(request);
      return;
    default:
      if (request.id !== undefined) send({ id: request.id, error: { message: `unknown op ${JSON.stringify(request.op)}` } });
  }
}

const requests = readline.createInterface({ input: openPipe(REQUEST_FD, false), crlfDelay: Infinity });
requests.on("line", (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    log("error", `host: unreadable request: ${errorMessage(err)}`);
    return;
  }
  handle(request).catch((err) => log("error", `host: ${errorMessage(err)}`));
});
requests.on("close", () => process.exit(0));
