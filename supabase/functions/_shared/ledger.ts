// The ledger's Postgres functions (supabase/migrations/20261204000000_token_ledger.sql and
// 20261204000100_report_callbacks_realtime.sql), called with the service key. Each is one transaction
// and idempotent, so a call that failed in transit is simply made again.

import { createClient, type SupabaseClient } from "npm:@supabase/supabase-js@2";
import type { Config } from "./config.ts";
import { log } from "./http.ts";

/** A job row as the functions return it (service role: every column). */
export interface JobRow {
  job_id: string;
  user_id: string;
  ticker: string;
  status: "queued" | "running" | "completed" | "completed_refunded" | "failed";
  accepted_at: string | null;
  refunded: boolean;
  error_code: string | null;
  error_message: string | null;
}

/** A refused or failed call: `kind` says what the caller may do about it. */
export class LedgerError extends Error {
  constructor(
    readonly kind: "insufficient_tokens" | "conflict" | "invalid" | "not_found" | "misconfigured" | "unavailable",
    message: string,
    readonly code: string | null,
    readonly status: number,
  ) {
    super(message);
  }
}

const ATTEMPTS = 3;

export class Ledger {
  private readonly db: SupabaseClient;

  constructor(config: Config) {
    this.db = createClient(config.supabaseUrl, config.serviceKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  }

  /** Spend one token for the job and record it (queued, waiting for a worker); a replay spends nothing. */
  spend(userId: string, jobId: string, ticker: string, callbackUrl: string | null) {
    return this.call<{ replayed: boolean; balance: number; job: JobRow }>("spend_token_for_job", {
      p_user_id: userId,
      p_job_id: jobId,
      p_ticker: ticker,
      p_callback_url: callbackUrl,
    });
  }

  /** The refund when no worker took the job: a no-op (accepted: true) for a job a worker accepted. */
  refundUnaccepted(jobId: string, code: string, message: string) {
    return this.call<{ changed: boolean; accepted: boolean; job: JobRow }>("refund_unaccepted_job", {
      p_job_id: jobId,
      p_error_log_id: crypto.randomUUID(), // once per logical call: a retry is recognised as a replay
      p_code: code,
      p_message: message.slice(0, 500),
    });
  }

  /** The job as recorded (null when there is none). */
  async job(jobId: string): Promise<JobRow | null> {
    return await this.call<JobRow | null>("get_job", { p_job_id: jobId });
  }

  /** Record a verified callback once per webhook-id. */
  recordCallback(args: {
    webhookId: string;
    jobId: string;
    status: string;
    refunded: boolean;
    reportId: string | null;
    errorCode: string | null;
    errorMessage: string | null;
  }) {
    return this.call<{ duplicate: boolean; notification: Record<string, unknown> }>("record_report_callback", {
      p_webhook_id: args.webhookId,
      p_job_id: args.jobId,
      p_status: args.status,
      p_refunded: args.refunded,
      p_report_id: args.reportId,
      p_error_code: args.errorCode,
      p_error_message: args.errorMessage,
    });
  }

  private async call<T>(fn: string, args: Record<string, unknown>): Promise<T> {
    let last: LedgerError | null = null;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const { data, error, status } = await this.db.rpc(fn, args);
      if (!error) return data as T;
      last = classify(error.code || null, error.message, status);
      if (last.kind !== "unavailable") break;
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    }
    if (last!.kind === "misconfigured") {
      log("error", "the database refuses this function's key: check SUPABASE_SECRET_KEYS / SUPABASE_SERVICE_ROLE_KEY", {
        rpc: fn,
        code: last!.code,
        status: last!.status,
      });
    }
    throw last!;
  }
}

/** PostgREST's error (code, HTTP status) as what the caller may do about it. */
export function classify(code: string | null, message: string, status: number): LedgerError {
  const kind: LedgerError["kind"] = code === "PT402"
    ? "insufficient_tokens"
    : code === "PT409"
    ? "conflict"
    : code === "PT400"
    ? "invalid"
    : code === "PT404"
    ? "not_found"
    : code === "PGRST301" || code === "PGRST302" || code === "42501" || (!code && (status === 401 || status === 403))
    ? "misconfigured"
    : !code || status === 0 || status >= 500 || /^PGRST00[0-3]$/.test(code) || /^(08|40|53|57)/.test(code)
    ? "unavailable"
    : "invalid";
  return new LedgerError(kind, message, code, status);
}
