// Test helpers: local HTTP servers that speak the real wire formats (PostgREST's RPC answers and error
// bodies, the report worker's API), signing keys and tokens shaped like Supabase Auth's, and a Config.
// The functions run unchanged against them; the Python suite runs them against the real PostgREST.

import * as jose from "npm:jose@6";
import type { Config } from "../_shared/config.ts";

export interface Server {
  url: string;
  calls: { path: string; headers: Headers; body: unknown }[];
  close(): Promise<void>;
}

/** Serve `handle` on a free port; every request is recorded (its JSON body parsed). */
export function serve(handle: (req: Request, body: unknown) => Response | Promise<Response>): Server {
  const calls: Server["calls"] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const text = await req.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch { /* not JSON: kept as text */ }
    calls.push({ path: new URL(req.url).pathname, headers: req.headers, body });
    return await handle(req, body);
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, calls, close: () => server.shutdown() };
}

export type RpcAnswer = { status: number; body: unknown };

/** PostgREST's /rest/v1/rpc/<fn>: each function answers from its script (the last answer repeats). */
export function fakePostgrest(script: Record<string, RpcAnswer[] | ((args: Record<string, unknown>) => RpcAnswer)>): Server {
  return serve((req, body) => {
    const fn = new URL(req.url).pathname.replace(/^\/rest\/v1\/rpc\//, "");
    const entry = script[fn];
    if (!entry) return Response.json({ code: "PGRST202", message: `Could not find the function public.${fn}`, details: null, hint: null }, { status: 404 });
    const answer = typeof entry === "function" ? entry(body as Record<string, unknown>) : (entry.length > 1 ? entry.shift()! : entry[0]);
    return Response.json(answer.body, { status: answer.status });
  });
}

export function pgError(status: number, code: string, message: string): RpcAnswer {
  return { status, body: { code, message, details: null, hint: null } };
}

export function jobRow(over: Record<string, unknown> = {}) {
  return {
    job_id: crypto.randomUUID(), user_id: crypto.randomUUID(), ticker: "AAPL", status: "queued", accepted_at: null,
    refunded: false, error_code: null, error_message: null, ...over,
  };
}

export interface SigningKey {
  jwks: { keys: Record<string, unknown>[] };
  token(claims: Record<string, unknown>, opts?: { expiresIn?: string | number; issuer?: string }): Promise<string>;
}

export async function signingKey(issuer: string): Promise<SigningKey> {
  const kid = `test-${crypto.randomUUID().slice(0, 8)}`;
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return {
    jwks: { keys: [jwk] },
    token: (claims, opts = {}) =>
      new jose.SignJWT({ role: "authenticated", aud: "authenticated", ...claims })
        .setProtectedHeader({ alg: "ES256", kid })
        .setIssuer(opts.issuer ?? issuer)
        .setIssuedAt()
        .setExpirationTime(opts.expiresIn ?? "1h")
        .sign(privateKey),
  };
}

export function testConfig(over: Partial<Config> = {}): Config {
  return {
    supabaseUrl: "http://127.0.0.1:9",
    serviceKey: "sb_secret_test",
    jwks: null,
    jwtIssuer: "http://127.0.0.1:9/auth/v1",
    workerUrl: "http://127.0.0.1:9",
    workerSecret: "test-worker-secret-0123456789",
    callbackUrl: "https://abc.supabase.co/functions/v1/report-callback",
    callbackSecret: "whsec_" + btoa("0123456789abcdef0123456789abcdef"),
    workerTimeoutMs: 2_000,
    workerRetryBudgetMs: 3_000,
    workerMaxAttempts: 4,
    ...over,
  };
}

/** A port nothing listens on: a worker that is down. */
export async function closedPort(): Promise<string> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `http://127.0.0.1:${port}`;
}
