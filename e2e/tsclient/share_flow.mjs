// Drives a capsol capsule with the official MCP TypeScript SDK client, the
// way a Node-based agent would. The Go test that starts the daemon passes
// the MCP URL and credentials in the environment and checks the JSON lines
// this script prints. Any failed expectation exits non-zero.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.env.CAPSOL_MCP_URL);
const writer = process.env.CAPSOL_WRITER_CREDENTIAL;
const reader = process.env.CAPSOL_READER_CREDENTIAL;
const revoked = process.env.CAPSOL_REVOKED_CREDENTIAL;

function report(step, value) {
  console.log(JSON.stringify({ step, ...value }));
}

function fail(message) {
  console.error("FAIL: " + message);
  process.exit(1);
}

async function connect(credential) {
  const client = new Client({ name: "capsol-ts-e2e", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { Authorization: `Bearer ${credential}` } },
  });
  await client.connect(transport);
  return client;
}

function structured(result) {
  if (result.structuredContent) return result.structuredContent;
  return JSON.parse(result.content[0].text);
}

const client = await connect(writer);
const tools = await client.listTools();
report("list_tools", { tools: tools.tools.map((t) => t.name).sort() });

const written = await client.callTool({
  name: "write_entry",
  arguments: { uri: "notes://ts/greeting", content: "# Hello from TypeScript\n\nThe quick brown fox.", tags: ["ts"] },
});
if (written.isError) fail("write_entry: " + JSON.stringify(written.content));
report("write_entry", structured(written));

const read = await client.callTool({ name: "read_entry", arguments: { uri: "notes://ts/greeting" } });
if (read.isError) fail("read_entry: " + JSON.stringify(read.content));
report("read_entry", structured(read));

const search = await client.callTool({ name: "search_entries", arguments: { query: "quick fox" } });
if (search.isError) fail("search_entries: " + JSON.stringify(search.content));
report("search_entries", structured(search));

const resource = await client.readResource({ uri: "notes://ts/greeting" });
report("read_resource", { uri: resource.contents[0].uri, text: resource.contents[0].text });
await client.close();

const readerClient = await connect(reader);
const refused = await readerClient.callTool({
  name: "write_entry",
  arguments: { uri: "notes://ts/forbidden", content: "must not be written" },
});
report("reader_write", { isError: refused.isError === true, result: structured(refused) });
await readerClient.close();

// A revoked credential: the SDK's connect must fail, and the raw response
// must carry the capsol error_code.
let connectError = null;
try {
  await connect(revoked);
} catch (err) {
  connectError = String(err && err.message ? err.message : err);
}
const raw = await fetch(url, {
  method: "POST",
  headers: {
    Authorization: `Bearer ${revoked}`,
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
  },
  body: JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  }),
});
const body = await raw.json();
report("revoked", {
  connect_failed: connectError !== null,
  status: raw.status,
  error_code: body.error_code,
  www_authenticate: raw.headers.get("www-authenticate"),
});
