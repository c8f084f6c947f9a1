/**
 * The contract of tpl-service: its tool's schemas, results and errors, as an MCP client sees them.
 *
 * Most tests connect in memory; two start the built server as a process, over stdio (how a
 * gateway runs it) and over Streamable HTTP (how a container serves it).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

import { buildServer, MAX_TEXT_CHARS } from "../src/server.js";

const ENTRY = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "index.js");

function textOf(result: CallToolResult): string {
  return result.content.map((block) => (block.type === "text" ? block.text : "")).join("");
}

async function call(client: Client, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name: "countWords", arguments: args })) as CallToolResult;
}

describe("in memory", () => {
  let client: Client;

  before(async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await buildServer().connect(serverSide);
    client = new Client({ name: "contract-test", version: "0" });
    await client.connect(clientSide);
  });

  after(async () => {
    await client.close();
  });

  test("lists countWords with input and output schemas", async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools.map((tool) => tool.name),
      ["countWords"],
    );
    const [tool] = tools;
    assert.ok(tool);
    assert.deepEqual(tool.inputSchema.required, ["text"]);
    assert.deepEqual(Object.keys(tool.outputSchema?.properties ?? {}).sort(), [
      "characters",
      "lines",
      "words",
    ]);
    assert.equal(tool.annotations?.readOnlyHint, true);
  });

  test("counts words, lines and characters", async () => {
    const result = await call(client, { text: "one two\nthree  four\n" });
    assert.equal(result.isError, undefined);
    assert.deepEqual(result.structuredContent, { words: 4, lines: 2, characters: 20 });
  });

  test("counts nothing in an empty text", async () => {
    const result = await call(client, { text: "" });
    assert.deepEqual(result.structuredContent, { words: 0, lines: 0, characters: 0 });
  });

  test("a text over the limit is a tool error naming the limit", async () => {
    const result = await call(client, { text: "x".repeat(MAX_TEXT_CHARS + 1) });
    assert.equal(result.isError, true);
    assert.match(textOf(result), new RegExp(String(MAX_TEXT_CHARS)));
  });

  test("a missing argument is a tool error", async () => {
    const result = await call(client, {});
    assert.equal(result.isError, true);
  });
});

test("serves over stdio", async () => {
  const client = new Client({ name: "contract-test", version: "0" });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [ENTRY] }));
  try {
    const result = await call(client, { text: "over stdio" });
    assert.deepEqual(result.structuredContent, { words: 2, lines: 1, characters: 10 });
  } finally {
    await client.close();
  }
});

test("serves Streamable HTTP", async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [ENTRY, "--http", "--port", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  try {
    // Another process: its log line is the only sign that it listens.
    await new Promise<void>((resolve, reject) => {
      child.stderr.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("serving MCP")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`the server exited with ${code}`)));
    });
    const client = new Client({ name: "contract-test", version: "0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
    try {
      const result = await call(client, { text: "over HTTP" });
      assert.deepEqual(result.structuredContent, { words: 2, lines: 1, characters: 9 });
    } finally {
      await client.close();
    }
  } finally {
    child.kill();
  }
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
