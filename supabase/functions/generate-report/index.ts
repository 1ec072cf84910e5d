// generate-report: the front end asks for a report on a ticker.
//
//   POST /functions/v1/generate-report   Authorization: Bearer <user access token>
//   Idempotency-Key: <uuid> (optional; becomes the job_id, so a retried request spends once)
//   {"ticker": "AAPL"}
//
// 1. verify the user's token (the user id comes only from its verified `sub`);
// 2. validate the ticker;
// 3. spend one token for the job through spend_token_for_job: one transaction that records the job,
//    or a replay of the same job_id that spends nothing;
// 4. POST the job to the report worker with WORKER_SECRET, retrying 429/503 within a bound and
//    honouring Retry-After;
// 5. when the worker finally refuses or cannot be reached, refund through refund_unaccepted_job, the
//    same exactly-once guard the worker's refunds use: it refunds only a job no worker accepted.
//
// Answers: 202 {job_id, status}; 400/401/405/409/413 JSON errors; 402 INSUFFICIENT_TOKENS; 503
// WORKER_UNAVAILABLE or 502 WORKER_REJECTED with "refunded": true (the token is back: try again later
// with a new Idempotency-Key); 503 STORE_UNAVAILABLE with the job_id when the database did not answer
// (retry with that job_id as Idempotency-Key: it spends at most once).

import { userVerifier, type Verifier, Unauthorized } from "../_shared/auth.ts";
import { type Config, loadConfig } from "../_shared/config.ts";
import { corsHeaders, error, isUuid, json, log, readBody, withHeaders } from "../_shared/http.ts";
import { type JobRow, Ledger, LedgerError } from "../_shared/ledger.ts";
import { offerJob } from "../_shared/worker.ts";

const MAX_BODY_BYTES = 4096;
const TICKER = /^[A-Za-z0-9][A-Za-z0-9.\-]{0,9}$/; // as the worker's job.py

/** "brk.b" -> "BRK-B": the worker's normalisation, so the spend records what the worker will see. */
export function normalizeTicker(value: string): string {
  return value.trim().toUpperCase().replaceAll(".", "-");
}

export interface Deps {
  verifyUser?: Verifier;
  ledger?: Ledger;
  offer?: typeof offerJob;
}

export function makeHandler(config: Config, deps: Deps = {}): (req: Request) => Promise<Response> {
  const verifyUser = deps.verifyUser ?? userVerifier(config);
  const ledger = deps.ledger ?? new Ledger(config);
  const offer = deps.offer ?? offerJob;

  async function handle(req: Request): Promise<Response> {
    if (req.method === "OPTIONS") return new Response(null, { status: 204 });
    if (req.method !== "POST") return error(405, "METHOD_NOT_ALLOWED", `method ${req.method} is not allowed here`, {}, { Allow: "POST, OPTIONS" });

    let userId: string;
    try {
      userId = await verifyUser(req);
    } catch (e) {
      if (e instanceof Unauthorized) return error(401, "UNAUTHORIZED", e.message);
      throw e;
    }

    const key = req.headers.get("idempotency-key")?.trim();
    if (key !== undefined && !isUuid(key)) {
      return error(400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be a UUID (it becomes the job id)");
    }
    const text = await readBody(req, MAX_BODY_BYTES);
    if (text === null) return error(413, "PAYLOAD_TOO_LARGE", `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return error(400, "INVALID_JSON", "the request body is not valid JSON");
    }
    const ticker = (body as { ticker?: unknown } | null)?.ticker;
    if (typeof ticker !== "string" || !TICKER.test(ticker.trim())) {
      return error(400, "INVALID_FIELD", "ticker must be 1-10 characters of A-Z, 0-9, '.' or '-' (e.g. \"AAPL\")", { field: "ticker" });
    }
    const jobId = (key ?? crypto.randomUUID()).toLowerCase();

    let job: JobRow;
    try {
      ({ job } = await ledger.spend(userId, jobId, normalizeTicker(ticker), config.callbackUrl));
    } catch (e) {
      if (!(e instanceof LedgerError)) throw e;
      switch (e.kind) {
        case "insufficient_tokens":
          return error(402, "INSUFFICIENT_TOKENS", "no report token left: buy more to generate this report");
        case "conflict":
          return error(409, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was already used for another request");
        case "invalid":
          return error(400, "INVALID_FIELD", e.message, { field: "ticker" });
        case "unavailable":
          // the spend may have committed: the same job_id again spends at most once
          return error(503, "STORE_UNAVAILABLE", "the database did not answer; retry with this job_id as Idempotency-Key", { job_id: jobId }, { "Retry-After": "5" });
        default:
          return error(500, "INTERNAL_ERROR", "this function is misconfigured");
      }
    }

    if (job.accepted_at !== null) return accepted(job.job_id, job.status); // a replay: a worker has it
    if (job.status === "failed") return refunded(job); // a replay of a request no worker took

    const dispatch = await offer(config, {
      job_id: job.job_id,
      user_id: userId,
      ticker: job.ticker,
      ...(config.callbackUrl ? { callback_url: config.callbackUrl } : {}),
    });
    if (dispatch.outcome === "accepted") {
      if (dispatch.status === 202) return accepted(job.job_id, dispatch.jobStatus ?? "queued");
      // 200: the worker already knew the job: accepted by a concurrent request, or ended by its refund
      const known = await ledger.job(job.job_id).catch(() => null);
      if (known && known.accepted_at === null && known.status === "failed") return refunded(known);
      return accepted(job.job_id, known?.status ?? dispatch.jobStatus ?? "queued");
    }

    const code = dispatch.outcome === "refused" ? "WORKER_REJECTED" : "WORKER_UNAVAILABLE";
    log("warn", "the worker did not take the job; refunding", { job_id: job.job_id, worker_status: dispatch.status, worker_code: dispatch.code });
    try {
      const outcome = await ledger.refundUnaccepted(job.job_id, code, `${dispatch.code}: ${dispatch.message}`);
      if (outcome.accepted) return accepted(job.job_id, outcome.job.status); // the worker took it after all
      const retryAfter = dispatch.outcome === "unavailable" && dispatch.retryAfterSeconds !== null ? dispatch.retryAfterSeconds : 30;
      return refunded(outcome.job, retryAfter);
    } catch (e) {
      if (!(e instanceof LedgerError)) throw e;
      // neither accepted nor refunded yet: the job's lease lapses and a worker's recovery ends it
      log("error", "refund failed; recovery will end the job", { job_id: job.job_id, code: e.code });
      return error(503, "WORKER_UNAVAILABLE", "the worker did not take the job; it will run or be refunded automatically", { job_id: job.job_id, refunded: false });
    }
  }

  return async (req: Request) => {
    try {
      return withHeaders(await handle(req), corsHeaders);
    } catch (e) {
      log("error", "unexpected error", { error: (e as Error).name });
      return withHeaders(error(500, "INTERNAL_ERROR", "internal error"), corsHeaders);
    }
  };
}

function accepted(jobId: string, status: string): Response {
  return json(202, { job_id: jobId, status });
}

function refunded(job: JobRow, retryAfterSeconds = 30): Response {
  const rejected = job.error_code === "WORKER_REJECTED";
  return error(
    rejected ? 502 : 503,
    job.error_code ?? "WORKER_UNAVAILABLE",
    rejected ? "the report worker refused the job; your token was refunded" : "the report worker is busy or down; your token was refunded",
    { job_id: job.job_id, refunded: true },
    rejected ? {} : { "Retry-After": String(Math.ceil(retryAfterSeconds)) },
  );
}

if (import.meta.main) {
  Deno.serve(makeHandler(loadConfig()));
}
