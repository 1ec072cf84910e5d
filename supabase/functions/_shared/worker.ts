// POST /generate-report to the report worker, retried within a bound. The job_id makes every retry
// safe: the worker runs a job once and answers a replay with 200 and the job's status.

import type { Config } from "./config.ts";

export interface WorkerJob {
  job_id: string;
  user_id: string;
  ticker: string;
  callback_url?: string;
}

export type Dispatch =
  | { outcome: "accepted"; status: number; jobStatus: string | null }
  | { outcome: "refused"; status: number; code: string; message: string } // a 4xx: retrying will not help
  | { outcome: "unavailable"; status: number | null; code: string; message: string; retryAfterSeconds: number | null };

type Sleep = (ms: number) => Promise<void>;
const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Seconds to wait from a Retry-After header (seconds or an HTTP date); null when absent or bad. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - now) / 1000);
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  const body = await res.json().catch(() => null);
  const error = body?.error;
  return {
    code: typeof error?.code === "string" ? error.code : `HTTP_${res.status}`,
    message: typeof error?.message === "string" ? error.message : `the worker answered ${res.status}`,
  };
}

/**
 * Offer the job to the worker. 202/200: it has the job. 429/503, 5xx, timeouts and network errors are
 * retried with backoff, waiting what Retry-After says, while the budget lasts; a wait past the budget
 * ends the attempts at once. A 503 the worker marks STORE_MISCONFIGURED is final (no retry can cure it).
 */
export async function offerJob(config: Config, job: WorkerJob, sleep: Sleep = realSleep): Promise<Dispatch> {
  const deadline = Date.now() + config.workerRetryBudgetMs;
  let last: Dispatch = { outcome: "unavailable", status: null, code: "WORKER_UNAVAILABLE", message: "not tried", retryAfterSeconds: null };
  for (let attempt = 1; attempt <= config.workerMaxAttempts; attempt++) {
    let waitSeconds: number | null = null;
    try {
      const res = await fetch(`${config.workerUrl}/generate-report`, {
        method: "POST",
        headers: { "Authorization": `Bearer ${config.workerSecret}`, "Content-Type": "application/json" },
        body: JSON.stringify(job),
        redirect: "manual", // the secret must not follow a redirect
        signal: AbortSignal.timeout(Math.min(config.workerTimeoutMs, Math.max(100, deadline - Date.now()))),
      });
      if (res.status === 202 || res.status === 200) {
        const body = await res.json().catch(() => null);
        return { outcome: "accepted", status: res.status, jobStatus: typeof body?.status === "string" ? body.status : null };
      }
      const { code, message } = await errorOf(res);
      if (res.status < 500 && res.status !== 429) return { outcome: "refused", status: res.status, code, message };
      waitSeconds = retryAfterSeconds(res.headers.get("retry-after"));
      last = { outcome: "unavailable", status: res.status, code, message, retryAfterSeconds: waitSeconds };
      if (code === "STORE_MISCONFIGURED") return last;
    } catch (e) {
      const name = (e as Error).name;
      last = {
        outcome: "unavailable",
        status: null,
        code: name === "TimeoutError" ? "WORKER_TIMEOUT" : "WORKER_UNREACHABLE",
        message: `the worker could not be reached (${name})`,
        retryAfterSeconds: null,
      };
    }
    if (attempt === config.workerMaxAttempts) break;
    const waitMs = waitSeconds !== null ? waitSeconds * 1000 : Math.min(4_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    if (Date.now() + waitMs >= deadline) break; // honour Retry-After: never retry sooner than told
    await sleep(waitMs);
  }
  return last;
}
