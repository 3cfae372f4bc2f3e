// Runs the MCP authorization flow with the official TypeScript SDK's auth()
// against a capsol daemon started by the Go tests: discovery from a bare
// 401, dynamic registration, a pending grant that this script approves
// through /v1 as an operator would, the code exchange, MCP calls, refresh
// rotation, refresh token reuse and RFC 7009 revocation. It prints one JSON
// line per step; the Go test checks them.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { auth, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const mcpURL = new URL(process.env.CAPSOL_MCP_URL);
const base = process.env.CAPSOL_URL;
const adminKey = process.env.CAPSOL_ADMIN_KEY;
const capsuleID = mcpURL.pathname.split("/").pop();

function report(step, value) {
  console.log(JSON.stringify({ step, ...value }));
}

function fail(message) {
  console.error("FAIL: " + message);
  process.exit(1);
}

class MemoryProvider {
  constructor(name) {
    this.name = name;
    this.authorizationURL = null;
  }
  get redirectUrl() {
    return "http://127.0.0.1:53999/callback";
  }
  get clientMetadata() {
    return {
      client_name: this.name,
      redirect_uris: [this.redirectUrl],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    };
  }
  state() {
    return "ts-" + Math.random().toString(36).slice(2);
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info) {
    this.client = info;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens) {
    this.savedTokens = tokens;
  }
  redirectToAuthorization(url) {
    this.authorizationURL = url;
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

async function adminRequest(method, path) {
  const res = await fetch(base + path, { method, headers: { Authorization: `Bearer ${adminKey}` } });
  return { status: res.status, body: await res.json() };
}

async function mcpStatus(token) {
  const res = await fetch(mcpURL, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
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
  let code = null;
  if (res.status === 401) code = (await res.json()).error_code;
  else await res.body?.cancel();
  return { status: res.status, error_code: code };
}

async function tokenRequest(params) {
  const res = await fetch(base + "/oauth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: await res.json() };
}

// authorize runs one flow up to a connected client.
async function authorize(provider) {
  const first = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
  let unauthorized = false;
  try {
    await new Client({ name: provider.name, version: "1.0.0" }).connect(first);
  } catch (err) {
    unauthorized = err instanceof UnauthorizedError;
  }
  if (!unauthorized || !provider.authorizationURL) fail("connect without a token did not start the authorization flow");

  const waiting = await fetch(provider.authorizationURL, { redirect: "manual" });
  const waitingPage = await waiting.text();
  const pending = await adminRequest("GET", `/v1/grants?status=pending&capsule_id=${capsuleID}`);
  if (pending.body.grants.length !== 1) fail("expected one pending grant, got " + JSON.stringify(pending.body));
  const grantID = pending.body.grants[0].id;
  const approved = await adminRequest("POST", `/v1/grants/${grantID}/approve`);

  const redirected = await fetch(provider.authorizationURL, { redirect: "manual" });
  const location = new URL(redirected.headers.get("location"));
  const code = location.searchParams.get("code");
  await first.finishAuth(code);

  const client = new Client({ name: provider.name, version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(mcpURL, { authProvider: provider }));
  return {
    client,
    flow: {
      waiting_status: waiting.status,
      waiting_page: waitingPage.includes("Waiting for approval"),
      grant_status: approved.body.status,
      redirect_status: redirected.status,
      redirect_state_matches: location.searchParams.get("state") !== null,
      client_registered: typeof provider.client?.client_id === "string",
    },
  };
}

// Flow 1: tools, refresh rotation, reuse detection.
const provider = new MemoryProvider("ts-sdk-e2e");
const { client, flow } = await authorize(provider);
report("authorize", flow);

const written = await client.callTool({ name: "write_entry", arguments: { uri: "notes://ts/oauth", content: "written with an OAuth token" } });
const read = await client.callTool({ name: "read_entry", arguments: { uri: "notes://ts/oauth" } });
report("tools", { write_error: written.isError === true, content: read.structuredContent?.content });
await client.close();

const before = provider.tokens();
const refreshed = await auth(provider, { serverUrl: mcpURL });
const after = provider.tokens();
report("refresh", {
  result: refreshed,
  rotated: before.access_token !== after.access_token && before.refresh_token !== after.refresh_token,
  old_access: await mcpStatus(before.access_token),
  new_access: await mcpStatus(after.access_token),
});

const reuse = await tokenRequest({ grant_type: "refresh_token", refresh_token: before.refresh_token, client_id: provider.client.client_id });
report("reuse", { status: reuse.status, error: reuse.body.error, new_access: await mcpStatus(after.access_token) });

// Flow 2: revocation with the access token kills both tokens.
const second = new MemoryProvider("ts-sdk-revoke");
const revokeFlow = await authorize(second);
await revokeFlow.client.close();
const tokens = second.tokens();
const revoked = await fetch(base + "/oauth/revoke", {
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ token: tokens.access_token }),
});
const refreshAfterRevoke = await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: second.client.client_id });
report("revoke", {
  status: revoked.status,
  access: await mcpStatus(tokens.access_token),
  refresh_status: refreshAfterRevoke.status,
  refresh_error: refreshAfterRevoke.body.error,
});
