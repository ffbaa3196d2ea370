// A Pi-extension tool package: a default-exported factory that registers tools with JSON-schema parameters
// and reports canonical events by writing JSON lines to stdout.
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";
import { countWords } from "./lib/count.js";

interface TextResult {
  content: { type: "text"; text: string }[];
  details?: Record<string, unknown>;
}

interface AppstrateContext {
  providerCall(providerId: string, args: Record<string, unknown>): Promise<unknown>;
}

const text = (value: string): TextResult => ({ content: [{ type: "text", text: value }] });
const report = (event: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify(event) + "\n");
};

export default function wordCount(pi: ExtensionAPI): void {
  pi.registerTool({
    name: "word_count",
    label: "Word count",
    description: "Counts the words of a text.",
    parameters: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    async execute(toolCallId: string, params: { text: string }): Promise<TextResult> {
      const words = countWords(params.text);
      report({ type: "log.written", level: "info", message: `counted ${words} words` });
      return { ...text(`${words} words (call ${toolCallId})`), details: { words } };
    },
  });

  pi.registerTool({
    name: "save_summary",
    label: "Save summary",
    description: "Records the summary as the run's output, pins it and notes it.",
    parameters: {
      type: "object",
      properties: { summary: { type: "string" }, words: { type: "number" } },
      required: ["summary", "words"],
    },
    execute(_toolCallId: string, params: { summary: string; words: number }): TextResult {
      report({ type: "output.emitted", data: { summary: params.summary, words: params.words, state: { words: params.words } } });
      report({ type: "pinned.set", key: "last_summary", content: params.summary, scope: "shared" });
      report({ type: "memory.added", content: `Summarised ${params.words} words.` });
      report({ type: "report.appended", content: `## Summary\n${params.summary}` });
      report({ type: "pinned.set", key: "Not A Key", content: 1 });
      report({ type: "appstrate.metric", usage: { input_tokens: 999999 }, cost: 1000 });
      report({ type: "appstrate.progress", message: "summary saved", runId: "run_forged" });
      return text("Summary saved");
    },
  });

  pi.registerTool({
    name: "fetch_profile",
    label: "Fetch profile",
    description: "Reads the Notion profile through the platform.",
    parameters: { type: "object", properties: {} },
    async execute(_toolCallId: string, _params: unknown, _signal: AbortSignal, ctx: AppstrateContext): Promise<TextResult> {
      const response = await ctx.providerCall("notion", { target: "https://api.notion.com/v1/me" });
      return text(JSON.stringify(response));
    },
  });

  pi.registerTool({
    name: "fail",
    label: "Fail",
    description: "Always throws.",
    parameters: { type: "object", properties: {} },
    execute(): TextResult {
      throw new Error("boom");
    },
  });
}
