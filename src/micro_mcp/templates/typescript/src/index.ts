#!/usr/bin/env node
/**
 * Run the server: `node dist/src/index.js` (stdio) or `node dist/src/index.js --http`.
 *
 * On stdio, stdout carries the protocol: anything meant for a human goes to stderr.
 */
import { parseArgs } from "node:util";

import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

import { buildServer, NAME } from "./server.js";

const { values } = parseArgs({
  options: {
    http: { type: "boolean", default: false },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8000" },
  },
});

if (values.http) {
  // Bound to loopback, the app checks the Host header, which stops DNS-rebinding attacks.
  const app = createMcpExpressApp({ host: values.host });
  // Stateless Streamable HTTP: a fresh server and transport per request, nothing shared.
  app.post("/mcp", async (req, res) => {
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (error) {
      console.error(`${NAME}: request failed:`, error);
      if (!res.headersSent) {
        res.status(500).json({
          jsonrpc: "2.0",
          error: { code: -32603, message: "Internal error" },
          id: null,
        });
      }
    }
  });
  app.listen(Number(values.port), values.host, (error?: Error) => {
    if (error) {
      console.error(`${NAME}: cannot listen on ${values.host}:${values.port}: ${error.message}`);
      process.exit(1);
    }
    console.error(`${NAME}: serving MCP on http://${values.host}:${values.port}/mcp`);
  });
} else {
  await buildServer().connect(new StdioServerTransport());
}
