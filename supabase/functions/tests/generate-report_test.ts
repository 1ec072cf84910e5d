// generate-report against local servers speaking PostgREST's and the worker's wire formats.
// Run: deno test --allow-net --allow-env --allow-read supabase/functions/tests/

import assert from "node:assert/strict";
import { makeHandler, normalizeTicker } from "../generate-report/index.ts";
import { retryAfterSeconds } from "../_shared/worker.ts";
import { closedPort, fakePostgrest, jobRow, pgError, type RpcAnswer, serve, type Server, signingKey, testConfig } from "./helpers.ts";

const USER = "6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f";

interface Setup {
  rest: Server;
  worker: Server;
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  token(claims?: Record<string, unknown>, opts?: { expiresIn?: string | number; issuer?: string }): Promise<string>;
  close(): Promise<void>;
}

/** The function wired to a fake PostgREST (`rpc`) and a fake worker (`worker`). */
async function setup(
  rpc: Record<string, RpcAnswer[] | ((args: Record<string, unknown>) => RpcAnswer)>,
  worker: (req: Request, body: unknown) => Response | Promise<Response>,
  over: Parameters<typeof testConfig>[0] = {},
): Promise<Setup> {
  const rest = fakePostgrest(rpc);
  const workerServer = serve(worker);
  const key = await signingKey(`${rest.url}/auth/v1`);
  const config = testConfig({ supabaseUrl: rest.url, jwtIssuer: `${rest.url}/auth/v1`, jwks: key.jwks, workerUrl: workerServer.url, ...over });
  const handler = makeHandler(config);
  const token = (claims: Record<string, unknown> = { sub: USER }, opts = {}) => key.token(claims, opts);
  return {
    rest,
    worker: workerServer,
    token,
    post: async (body, headers = {}) =>
      handler(new Request("http://fn/generate-report", {
        method: "POST",
        headers: { "Authorization": `Bearer ${await token()}`, "Content-Type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      })),
    close: async () => {
      await rest.close();
      await workerServer.close();
    },
  };
}

/** spend_token_for_job answering a fresh spend of the job it is asked for. */
const spendOk = (args: Record<string, unknown>): RpcAnswer => ({
  status: 200,
  body: { replayed: false, balance: 1, job: jobRow({ job_id: args.p_job_id, user_id: args.p_user_id, ticker: args.p_ticker }) },
});

/** refund_unaccepted_job refunding the job it is asked for, under the code it is given. */
const refundOk = (args: Record<string, unknown>): RpcAnswer => ({
  status: 200,
  body: { changed: true, accepted: false, job: jobRow({ job_id: args.p_job_id, status: "failed", refunded: true, error_code: args.p_code }) },
});

const accepted = (_req: Request, body: unknown) => Response.json({ job_id: (body as { job_id: string }).job_id, status: "queued" }, { status: 202 });

Deno.test("tickers are normalised as the worker does", () => {
  assert.equal(normalizeTicker(" brk.b "), "BRK-B");
  assert.equal(retryAfterSeconds("7"), 7);
  assert.equal(retryAfterSeconds(new Date(Date.now() + 3000).toUTCString()) !== null, true);
  assert.equal(retryAfterSeconds("soon"), null);
});

Deno.test("a paid job is spent once and handed to the worker: 202 {job_id}", async () => {
  const s = await setup({ spend_token_for_job: spendOk }, accepted);
  try {
    const key = crypto.randomUUID();
    const res = await s.post({ ticker: "brk.b" }, { "Idempotency-Key": key });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { job_id: key, status: "queued" });
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const [spend] = s.rest.calls;
    assert.equal(spend.path, "/rest/v1/rpc/spend_token_for_job");
    assert.deepEqual(spend.body, { p_user_id: USER, p_job_id: key, p_ticker: "BRK-B", p_callback_url: testConfig().callbackUrl });
    assert.equal(spend.headers.get("apikey"), "sb_secret_test"); // the service key, never the user's token
    const [offer] = s.worker.calls;
    assert.equal(offer.path, "/generate-report");
    assert.equal(offer.headers.get("authorization"), `Bearer ${testConfig().workerSecret}`);
    assert.deepEqual(offer.body, { job_id: key, user_id: USER, ticker: "BRK-B", callback_url: testConfig().callbackUrl });
  } finally {
    await s.close();
  }
});

Deno.test("without an Idempotency-Key the job gets a new id", async () => {
  const s = await setup({ spend_token_for_job: spendOk }, accepted);
  try {
    const res = await s.post({ ticker: "AAPL" });
    const { job_id } = await res.json();
    assert.equal(res.status, 202);
    assert.match(job_id, /^[0-9a-f-]{36}$/);
    assert.equal((s.rest.calls[0].body as Record<string, string>).p_job_id, job_id);
  } finally {
    await s.close();
  }
});

Deno.test("no token left: 402, and the worker is never called", async () => {
  const s = await setup({ spend_token_for_job: [pgError(402, "PT402", "insufficient tokens")] }, accepted);
  try {
    const res = await s.post({ ticker: "AAPL" });
    assert.equal(res.status, 402);
    assert.equal((await res.json()).error.code, "INSUFFICIENT_TOKENS");
    assert.equal(s.worker.calls.length, 0);
  } finally {
    await s.close();
  }
});

Deno.test("bad requests are JSON errors and spend nothing", async () => {
  const s = await setup({ spend_token_for_job: spendOk }, accepted);
  try {
    const cases: [unknown, Record<string, string>, number, string][] = [
      [{ ticker: "no spaces" }, {}, 400, "INVALID_FIELD"],
      [{ ticker: 42 }, {}, 400, "INVALID_FIELD"],
      [{}, {}, 400, "INVALID_FIELD"],
      ["{not json", {}, 400, "INVALID_JSON"],
      [{ ticker: "AAPL" }, { "Idempotency-Key": "not-a-uuid" }, 400, "INVALID_IDEMPOTENCY_KEY"],
      [{ ticker: "A".repeat(5000) }, {}, 413, "PAYLOAD_TOO_LARGE"],
    ];
    for (const [body, headers, status, code] of cases) {
      const res = await s.post(body, headers);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal((await res.json()).error.code, code);
    }
    assert.equal(s.rest.calls.length, 0);
  } finally {
    await s.close();
  }
});

Deno.test("only a signed-in user's valid token is accepted: 401 otherwise", async () => {
  const s = await setup({ spend_token_for_job: spendOk }, accepted);
  const handler = makeHandler(testConfig({ supabaseUrl: s.rest.url, jwtIssuer: `${s.rest.url}/auth/v1`, jwks: (await signingKey("x")).jwks }));
  try {
    const tokens = [
      null, // no Authorization
      "sb_publishable_abc", // an API key is not a user
      await s.token({ sub: USER }, { expiresIn: -60 }), // expired
      await s.token({ sub: USER, role: "anon" }), // not a user's session
      await s.token({ sub: USER }, { issuer: "https://another.supabase.co/auth/v1" }),
      await s.token({ sub: "not-a-uuid" }),
    ];
    for (const token of tokens) {
      const headers: Record<string, string> = { "Content-Type": "application/json", Authorization: token ? `Bearer ${token}` : "" };
      const res = await s.post({ ticker: "AAPL" }, headers);
      assert.equal(res.status, 401, String(token));
      assert.equal((await res.json()).error.code, "UNAUTHORIZED");
    }
    // a well-formed token signed by a key of another project
    const other = await handler(new Request("http://fn/generate-report", {
      method: "POST",
      headers: { "Authorization": `Bearer ${await s.token()}` },
      body: JSON.stringify({ ticker: "AAPL" }),
    }));
    assert.equal(other.status, 401);
    assert.equal(s.rest.calls.length, 0);
  } finally {
    await s.close();
  }
});

Deno.test("CORS preflight is answered before any auth", async () => {
  const s = await setup({}, accepted);
  try {
    const res = await makeHandler(testConfig({ supabaseUrl: s.rest.url }))(new Request("http://fn/generate-report", { method: "OPTIONS" }));
    assert.equal(res.status, 204);
    assert.match(res.headers.get("access-control-allow-headers")!, /idempotency-key/);
    const get = await makeHandler(testConfig({ supabaseUrl: s.rest.url }))(new Request("http://fn/generate-report"));
    assert.equal(get.status, 405);
  } finally {
    await s.close();
  }
});

Deno.test("429 and 503 are retried, honouring Retry-After", async () => {
  let calls = 0;
  const s = await setup({ spend_token_for_job: spendOk }, (_req, body) => {
    calls++;
    if (calls === 1) return Response.json({ error: { code: "QUEUE_FULL", message: "full" } }, { status: 429, headers: { "Retry-After": "1" } });
    if (calls === 2) return Response.json({ error: { code: "SHUTTING_DOWN", message: "bye" } }, { status: 503 });
    return accepted(new Request("http://x"), body);
  });
  try {
    const started = Date.now();
    const res = await s.post({ ticker: "AAPL" });
    assert.equal(res.status, 202);
    assert.equal(calls, 3);
    assert.ok(Date.now() - started >= 1000, "waited the Retry-After second");
  } finally {
    await s.close();
  }
});

Deno.test("a worker busy past the retry budget: refunded through the guard, 503 refunded", async () => {
  const s = await setup(
    { spend_token_for_job: spendOk, refund_unaccepted_job: refundOk },
    () => Response.json({ error: { code: "QUEUE_FULL", message: "full" } }, { status: 429, headers: { "Retry-After": "30" } }),
  );
  try {
    const started = Date.now();
    const res = await s.post({ ticker: "AAPL" });
    const body = await res.json();
    assert.equal(res.status, 503);
    assert.equal(body.error.code, "WORKER_UNAVAILABLE");
    assert.equal(body.refunded, true);
    assert.equal(res.headers.get("retry-after"), "30");
    assert.equal(s.worker.calls.length, 1, "a Retry-After past the budget is not cut short");
    assert.ok(Date.now() - started < 2000);
    const refunds = s.rest.calls.filter((c) => c.path.endsWith("/refund_unaccepted_job"));
    assert.equal(refunds.length, 1);
    assert.equal((refunds[0].body as Record<string, string>).p_code, "WORKER_UNAVAILABLE");
  } finally {
    await s.close();
  }
});

Deno.test("a worker that is down is retried, then the job is refunded", async () => {
  const s = await setup({ spend_token_for_job: spendOk, refund_unaccepted_job: refundOk }, accepted, { workerUrl: await closedPort(), workerMaxAttempts: 3 });
  try {
    const res = await s.post({ ticker: "AAPL" });
    assert.equal(res.status, 503);
    assert.equal((await res.json()).refunded, true);
    assert.equal(s.rest.calls.filter((c) => c.path.endsWith("/refund_unaccepted_job")).length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("a worker refusing for good (4xx) is not retried: refunded, 502 WORKER_REJECTED", async () => {
  const s = await setup(
    { spend_token_for_job: spendOk, refund_unaccepted_job: refundOk },
    () => Response.json({ error: { code: "INVALID_FIELD", message: "callback_url host is not allowed", field: "callback_url" } }, { status: 400 }),
  );
  try {
    const res = await s.post({ ticker: "AAPL" });
    assert.equal(res.status, 502);
    assert.equal((await res.json()).error.code, "WORKER_REJECTED");
    assert.equal(s.worker.calls.length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("a worker whose store refuses its key (503 STORE_MISCONFIGURED) is not retried", async () => {
  const s = await setup(
    { spend_token_for_job: spendOk, refund_unaccepted_job: refundOk },
    () => Response.json({ error: { code: "STORE_MISCONFIGURED", message: "check SUPABASE_SERVICE_KEY" } }, { status: 503 }),
  );
  try {
    const res = await s.post({ ticker: "AAPL" });
    assert.equal(res.status, 503);
    assert.equal(s.worker.calls.length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("the guard finds the job accepted (the worker answered late): no refund, 202", async () => {
  const s = await setup(
    {
      spend_token_for_job: spendOk,
      refund_unaccepted_job: (args) => ({ status: 200, body: { changed: false, accepted: true, job: jobRow({ job_id: args.p_job_id, status: "running", accepted_at: "2026-12-04T00:00:00Z" }) } }),
    },
    async () => {
      await new Promise((r) => setTimeout(r, 400));
      return Response.json({ job_id: "x", status: "queued" }, { status: 202 });
    },
    { workerTimeoutMs: 100, workerRetryBudgetMs: 150 },
  );
  try {
    const res = await s.post({ ticker: "AAPL" });
    assert.equal(res.status, 202);
    assert.equal((await res.json()).status, "running");
  } finally {
    await s.close();
  }
});

Deno.test("a replay of a job a worker has is answered without calling the worker", async () => {
  const key = crypto.randomUUID();
  const s = await setup(
    { spend_token_for_job: [{ status: 200, body: { replayed: true, balance: 0, job: jobRow({ job_id: key, status: "running", accepted_at: "2026-12-04T00:00:00Z" }) } }] },
    accepted,
  );
  try {
    const res = await s.post({ ticker: "AAPL" }, { "Idempotency-Key": key });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { job_id: key, status: "running" });
    assert.equal(s.worker.calls.length, 0);
  } finally {
    await s.close();
  }
});

Deno.test("an Idempotency-Key reused for another ticker is 409", async () => {
  const s = await setup({ spend_token_for_job: [pgError(409, "PT409", "job exists with a different payload")] }, accepted);
  try {
    const res = await s.post({ ticker: "MSFT" }, { "Idempotency-Key": crypto.randomUUID() });
    assert.equal(res.status, 409);
    assert.equal((await res.json()).error.code, "IDEMPOTENCY_KEY_REUSED");
  } finally {
    await s.close();
  }
});

Deno.test("the database down during the spend: retried, then 503 with the job_id to retry with", async () => {
  const s = await setup({ spend_token_for_job: [pgError(503, "PGRST002", "Could not query the database for the schema cache")] }, accepted);
  try {
    const key = crypto.randomUUID();
    const res = await s.post({ ticker: "AAPL" }, { "Idempotency-Key": key });
    const body = await res.json();
    assert.equal(res.status, 503);
    assert.equal(body.job_id, key);
    assert.equal(s.rest.calls.length, 3);
    assert.equal(s.worker.calls.length, 0);
  } finally {
    await s.close();
  }
});

Deno.test("the worker's 200 for a job a concurrent request's refund ended is not reported as accepted", async () => {
  const s = await setup(
    {
      spend_token_for_job: spendOk,
      get_job: (args) => ({ status: 200, body: jobRow({ job_id: args.p_job_id, status: "failed", refunded: true, error_code: "WORKER_UNAVAILABLE" }) }),
    },
    (_req, body) => Response.json({ job_id: (body as { job_id: string }).job_id, status: "failed" }, { status: 200 }),
  );
  try {
    const res = await s.post({ ticker: "AAPL" });
    assert.equal(res.status, 503);
    assert.equal((await res.json()).refunded, true);
  } finally {
    await s.close();
  }
});

Deno.test("the worker's 200 for a job a concurrent request had it accept is 202", async () => {
  const s = await setup(
    {
      spend_token_for_job: spendOk,
      get_job: (args) => ({ status: 200, body: jobRow({ job_id: args.p_job_id, status: "running", accepted_at: "2026-12-04T00:00:00Z" }) }),
    },
    (_req, body) => Response.json({ job_id: (body as { job_id: string }).job_id, status: "queued" }, { status: 200 }),
  );
  try {
    const res = await s.post({ ticker: "AAPL" });
    assert.equal(res.status, 202);
    assert.equal((await res.json()).status, "running");
  } finally {
    await s.close();
  }
});
