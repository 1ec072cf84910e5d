// report-callback against a local server speaking PostgREST's wire format, with callbacks signed by
// the real standardwebhooks library (the worker signs with the Python one; the end-to-end test in
// tests/test_saas_e2e.py checks the two agree).

import assert from "node:assert/strict";
import { Webhook } from "npm:standardwebhooks@1";
import { makeHandler } from "../report-callback/index.ts";
import { fakePostgrest, pgError, type RpcAnswer, type Server, testConfig } from "./helpers.ts";

const config = testConfig();
const JOB = "0b9c5a8e-7f61-4d2a-9c3b-5e4f6a7b8c9d";

function signed(body: string, opts: { id?: string; at?: Date; secret?: string } = {}): Request {
  const id = opts.id ?? `msg_${JOB.replaceAll("-", "")}`;
  const at = opts.at ?? new Date();
  const signature = new Webhook(opts.secret ?? config.callbackSecret).sign(id, at, body);
  return new Request("http://fn/report-callback", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": signature,
    },
    body,
  });
}

const outcome = JSON.stringify({ error: null, error_log_id: null, job_id: JOB, refunded: false, report_id: crypto.randomUUID(), status: "completed" });

function withRest(script: Record<string, RpcAnswer[]>): { rest: Server; handler: (req: Request) => Promise<Response> } {
  const rest = fakePostgrest(script);
  return { rest, handler: makeHandler(testConfig({ supabaseUrl: rest.url })) };
}

Deno.test("a signed callback is recorded once per webhook-id", async () => {
  const { rest, handler } = withRest({
    record_report_callback: [{ status: 200, body: { duplicate: false, notification: {} } }, { status: 200, body: { duplicate: true, notification: {} } }],
  });
  try {
    const first = await handler(signed(outcome));
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { ok: true, duplicate: false });
    const again = await handler(signed(outcome)); // the worker's retry: same webhook-id
    assert.deepEqual(await again.json(), { ok: true, duplicate: true });
    const args = rest.calls[0].body as Record<string, unknown>;
    assert.equal(args.p_webhook_id, `msg_${JOB.replaceAll("-", "")}`);
    assert.equal(args.p_job_id, JOB);
    assert.equal(args.p_status, "completed");
    assert.equal(args.p_refunded, false);
  } finally {
    await rest.close();
  }
});

Deno.test("a failed job's error is recorded", async () => {
  const { rest, handler } = withRest({ record_report_callback: [{ status: 200, body: { duplicate: false, notification: {} } }] });
  try {
    const body = JSON.stringify({ error: { code: "TICKER_NOT_FOUND", message: "no such ticker" }, error_log_id: crypto.randomUUID(), job_id: JOB, refunded: true, report_id: null, status: "failed" });
    assert.equal((await handler(signed(body))).status, 200);
    const args = rest.calls[0].body as Record<string, unknown>;
    assert.equal(args.p_error_code, "TICKER_NOT_FOUND");
    assert.equal(args.p_refunded, true);
  } finally {
    await rest.close();
  }
});

Deno.test("a bad, foreign or stale signature is 401 and records nothing", async () => {
  const { rest, handler } = withRest({ record_report_callback: [{ status: 200, body: { duplicate: false, notification: {} } }] });
  try {
    const tampered = signed(outcome);
    const cases = [
      new Request(tampered.url, { method: "POST", headers: tampered.headers, body: outcome.replace("completed", "failed") }),
      signed(outcome, { secret: "whsec_" + btoa("another-secret-another-secret-00") }),
      signed(outcome, { at: new Date(Date.now() - 6 * 60 * 1000) }), // 6 minutes old: a replayed capture
      signed(outcome, { at: new Date(Date.now() + 6 * 60 * 1000) }),
      new Request("http://fn/report-callback", { method: "POST", body: outcome }), // no signature at all
    ];
    for (const req of cases) {
      const res = await handler(req);
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error.code, "INVALID_SIGNATURE");
    }
    assert.equal(rest.calls.length, 0);
  } finally {
    await rest.close();
  }
});

Deno.test("a signed body that is not a job outcome is 400", async () => {
  const { rest, handler } = withRest({});
  try {
    for (const body of ["[]", JSON.stringify({ job_id: "x", status: "completed", refunded: false }), JSON.stringify({ job_id: JOB, status: "running", refunded: false })]) {
      assert.equal((await handler(signed(body))).status, 400, body);
    }
    assert.equal((await handler(new Request("http://fn/report-callback"))).status, 405);
    assert.equal(rest.calls.length, 0);
  } finally {
    await rest.close();
  }
});

Deno.test("the database down: 503, so the worker delivers again; an unknown job: 404", async () => {
  const { rest, handler } = withRest({ record_report_callback: [...Array(3).fill(pgError(503, "PGRST002", "no connection")), pgError(404, "PT404", "no job")] });
  try {
    const down = await handler(signed(outcome));
    assert.equal(down.status, 503);
    assert.equal(rest.calls.length, 3); // retried within the request first
    const unknown = await handler(signed(outcome));
    assert.equal(unknown.status, 404);
  } finally {
    await rest.close();
  }
});
