// report-callback: the report worker's signed callback when a job ends.
//
//   POST /functions/v1/report-callback   (deployed with verify_jwt = false: the signature is the auth)
//   webhook-id: msg_<job id>   webhook-timestamp: <unix s>   webhook-signature: v1,<base64 HMAC-SHA256>
//   {"job_id", "status", "refunded", "report_id", "error": {"code", "message"} | null, "error_log_id"}
//
// Verifies the Standard Webhooks signature over the exact body (npm:standardwebhooks; a timestamp more
// than 5 minutes off is refused), then records the outcome where the front end reads it under
// row-level security: one report_notifications row per webhook-id (a retried delivery records nothing
// more), in one transaction. Answers at once: 200 {"ok": true, "duplicate": bool}; 401 for a bad
// signature; 400 for a signed body that is not a job outcome; 404 for an unknown job; 503 when the
// database does not answer (the worker retries the delivery).

import { Webhook } from "npm:standardwebhooks@1";
import { type Config, loadConfig } from "../_shared/config.ts";
import { error, isUuid, json, log, readBody } from "../_shared/http.ts";
import { Ledger, LedgerError } from "../_shared/ledger.ts";

const MAX_BODY_BYTES = 64 * 1024;
const OUTCOMES = new Set(["completed", "completed_refunded", "failed"]);

interface Outcome {
  job_id: string;
  status: string;
  refunded: boolean;
  report_id: string | null;
  error: { code: string; message: string } | null;
}

function parseOutcome(value: unknown): Outcome | null {
  const v = value as Partial<Outcome> | null;
  if (!v || !isUuid(v.job_id) || typeof v.status !== "string" || !OUTCOMES.has(v.status)) return null;
  if (typeof v.refunded !== "boolean" || (v.report_id != null && !isUuid(v.report_id))) return null;
  if (v.error != null && (typeof v.error.code !== "string" || typeof v.error.message !== "string")) return null;
  return { job_id: v.job_id, status: v.status, refunded: v.refunded, report_id: v.report_id ?? null, error: v.error ?? null };
}

export function makeHandler(config: Config, deps: { ledger?: Ledger } = {}): (req: Request) => Promise<Response> {
  const webhook = new Webhook(config.callbackSecret);
  const ledger = deps.ledger ?? new Ledger(config);

  return async (req: Request): Promise<Response> => {
    if (req.method !== "POST") return error(405, "METHOD_NOT_ALLOWED", `method ${req.method} is not allowed here`, {}, { Allow: "POST" });
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === null) return error(413, "PAYLOAD_TOO_LARGE", `the body is larger than ${MAX_BODY_BYTES} bytes`);
    const headers = Object.fromEntries(req.headers); // verify() wants a plain object, not Headers
    let payload: unknown;
    try {
      payload = webhook.verify(body, headers); // the exact bytes received; throws on a bad or stale signature
    } catch (e) {
      log("warn", "callback refused", { reason: (e as Error).message, webhook_id: headers["webhook-id"] ?? null });
      return error(401, "INVALID_SIGNATURE", "the webhook signature is missing, wrong or too old");
    }
    const outcome = parseOutcome(payload);
    if (!outcome) return error(400, "INVALID_PAYLOAD", "the signed body is not a job outcome");

    try {
      const { duplicate } = await ledger.recordCallback({
        webhookId: headers["webhook-id"],
        jobId: outcome.job_id,
        status: outcome.status,
        refunded: outcome.refunded,
        reportId: outcome.report_id,
        errorCode: outcome.error?.code ?? null,
        errorMessage: outcome.error?.message ?? null,
      });
      log("info", "callback recorded", { job_id: outcome.job_id, status: outcome.status, duplicate });
      return json(200, { ok: true, duplicate });
    } catch (e) {
      if (!(e instanceof LedgerError)) throw e;
      if (e.kind === "not_found") return error(404, "JOB_NOT_FOUND", "no such job");
      log("error", "callback not recorded", { job_id: outcome.job_id, code: e.code });
      return error(503, "STORE_UNAVAILABLE", "the outcome could not be recorded; deliver it again", {}, { "Retry-After": "10" });
    }
  };
}

if (import.meta.main) {
  Deno.serve(makeHandler(loadConfig(Deno.env, { worker: false })));
}
