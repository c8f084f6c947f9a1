/**
 * The tpl-service MCP server: one capability, behind one small, typed tool.
 *
 * Replace `countWords` with your service's own tool; keep the shape: zod inputs with
 * descriptions (they become the input schema), an output schema (the result's
 * `structuredContent` is checked against it), annotations that say what the tool touches, and
 * `isError` results for failures the caller should read.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";

/** The server's name, and the namespace the gateway gives its tools (`tpl-service.countWords`). */
export const NAME = "tpl-service";
export const VERSION = "0.1.0";

/**
 * The longest text accepted. A service bounds its own inputs: the gateway only limits the size
 * of a whole message.
 */
export const MAX_TEXT_CHARS = 100_000;

/** Build the server; `index.ts` runs it, the tests connect to it in memory. */
export function buildServer(): McpServer {
  const server = new McpServer(
    { name: NAME, version: VERSION },
    { instructions: "Counts the words, lines and characters of a text with countWords." },
  );

  server.registerTool(
    "countWords",
    {
      description: "Count the words, lines and characters of a text.",
      inputSchema: { text: z.string().describe("The text to count.") },
      outputSchema: {
        words: z.number().int().describe("Runs of non-whitespace characters."),
        lines: z.number().int().describe("Lines, counting a last line without a line break."),
        characters: z.number().int().describe("Unicode code points."),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ text }) => {
      const characters = [...text].length;
      if (characters > MAX_TEXT_CHARS) {
        return {
          isError: true,
          content: [
            {
              type: "text",
              text: `text is ${characters} characters long; the limit is ${MAX_TEXT_CHARS}`,
            },
          ],
        };
      }
      const counts = {
        words: text.split(/\s+/).filter((word) => word.length > 0).length,
        lines: text === "" ? 0 : text.replace(/(\r\n|\r|\n)$/, "").split(/\r\n|\r|\n/).length,
        characters,
      };
      return {
        content: [{ type: "text", text: JSON.stringify(counts) }],
        structuredContent: counts,
      };
    },
  );

  return server;
}
