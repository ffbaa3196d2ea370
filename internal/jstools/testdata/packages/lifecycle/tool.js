// Plain JavaScript tools exercising the host's edges: cancellation, crashes, limits, the tool context.
import { spawn } from "node:child_process";
import { writeSync } from "node:fs";

// writeAll writes text to fd, retrying while the (non-blocking) pipe is full.
function writeAll(fd, text) {
  let rest = Buffer.from(text);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (err) {
      if (err.code !== "EAGAIN") throw err;
    }
  }
}

const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const text = (value) => ({ content: [{ type: "text", text: value }] });

export default async function lifecycle(pi) {
  await Promise.resolve(); // an async factory

  pi.registerTool({
    name: "wait_for_abort",
    description: "Waits until its AbortSignal fires.",
    parameters: { type: "object", properties: { tag: { type: "string" } } },
    execute(_id, params, signal) {
      say({ type: "log.written", level: "info", message: `started ${params.tag}` });
      return new Promise((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          say({ type: "log.written", level: "info", message: `aborted ${params.tag}: ${signal.reason?.name}` });
          reject(signal.reason);
        });
      });
    },
  });

  pi.registerTool({
    name: "crash",
    description: "Ends the host process.",
    execute() {
      process.stderr.write("crashing on purpose\n");
      process.exit(7);
    },
  });

  pi.registerTool({
    name: "big",
    description: "Returns a text of the given size.",
    execute(_id, params) {
      return text("x".repeat(params.size));
    },
  });

  pi.registerTool({
    name: "bad_result",
    description: "Returns something that is not a tool result.",
    execute() {
      return { answer: 42 };
    },
  });

  pi.registerTool({
    name: "image",
    description: "Returns an image and a string result shape.",
    execute() {
      return { content: [{ type: "text", text: "a pixel" }, { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" }], isError: false };
    },
  });

  pi.registerTool({
    name: "provider",
    description: "Calls a provider through the tool context.",
    async execute(_id, params, _signal, ctx) {
      try {
        const response = await ctx.providerCall(params.providerId, { target: params.target, method: "GET" });
        return { content: [{ type: "text", text: JSON.stringify(response) }] };
      } catch (err) {
        return { content: [{ type: "text", text: `failed: ${err.message}` }], isError: true };
      }
    },
  });

  pi.registerTool({
    name: "spawn_sleeper",
    description: "Starts a long-running child process and returns its pid.",
    execute() {
      const child = spawn("sleep", ["1000"], { stdio: "ignore" });
      return text(String(child.pid));
    },
  });

  pi.registerTool({
    name: "throw_later",
    description: "Throws from a timer, outside any call.",
    execute() {
      setTimeout(() => {
        throw new Error("thrown from a timer");
      }, 0);
      return text("scheduled");
    },
  });

  pi.registerTool({
    name: "rogue",
    description: "Writes to the host's protocol pipe (fd 4) directly: a malformed line, then an oversized one.",
    execute(_id, params) {
      writeAll(4, "not json\n");
      writeAll(4, JSON.stringify({ stdout: "x".repeat(params.size) }) + "\n");
      return text("written");
    },
  });
}
