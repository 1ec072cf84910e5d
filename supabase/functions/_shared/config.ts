// The functions' settings, read from the environment once per isolate. Supabase injects SUPABASE_URL,
// SUPABASE_SECRET_KEYS (or the legacy SUPABASE_SERVICE_ROLE_KEY) and SUPABASE_JWKS; the rest are
// secrets set with `supabase secrets set` (README, "Deploying the Edge Functions").

export interface Config {
  supabaseUrl: string;
  serviceKey: string; // the secret key (or legacy service_role JWT): the ledger's functions are service-role only
  jwks: { keys: Record<string, unknown>[] } | null; // null: fetched from <SUPABASE_URL>/auth/v1/.well-known/jwks.json
  jwtIssuer: string;
  workerUrl: string; // the report worker's base URL; POST <workerUrl>/generate-report
  workerSecret: string;
  callbackUrl: string | null; // the report-callback function's public URL, sent to the worker
  callbackSecret: string; // Standard Webhooks secret (whsec_...) shared with the worker
  workerTimeoutMs: number; // one POST to the worker
  workerRetryBudgetMs: number; // all POSTs of one request, waits included (Retry-After is honoured within it)
  workerMaxAttempts: number;
}

export type Env = { get(name: string): string | undefined };

export class ConfigError extends Error {}

const DEFAULTS = {
  workerTimeoutMs: 10_000,
  workerRetryBudgetMs: 35_000, // fits one Retry-After of the worker's full queue (30 s); far below the 150 s request limit
  workerMaxAttempts: 4,
};

function required(env: Env, name: string): string {
  const value = env.get(name)?.trim();
  if (!value) throw new ConfigError(`${name} is not set`);
  return value;
}

function number(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a number between ${min} and ${max}`);
  }
  return value;
}

/** The secret key: SUPABASE_SECRET_KEYS is a JSON dictionary ({"default": "sb_secret_..."}). */
function serviceKey(env: Env): string {
  const keys = env.get("SUPABASE_SECRET_KEYS");
  if (keys) {
    try {
      const parsed = JSON.parse(keys);
      if (typeof parsed?.default === "string" && parsed.default) return parsed.default;
    } catch {
      throw new ConfigError("SUPABASE_SECRET_KEYS is not a JSON object with a default key");
    }
  }
  return required(env, "SUPABASE_SERVICE_ROLE_KEY");
}

export function loadConfig(env: Env = Deno.env, needs: { worker: boolean } = { worker: true }): Config {
  const supabaseUrl = required(env, "SUPABASE_URL").replace(/\/+$/, "");
  let jwks: Config["jwks"] = null;
  const rawJwks = env.get("SUPABASE_JWKS");
  if (rawJwks) {
    try {
      jwks = JSON.parse(rawJwks);
    } catch {
      throw new ConfigError("SUPABASE_JWKS is not JSON");
    }
  }
  return {
    supabaseUrl,
    serviceKey: serviceKey(env),
    jwks,
    jwtIssuer: env.get("SUPABASE_JWT_ISSUER") || `${supabaseUrl}/auth/v1`,
    workerUrl: needs.worker ? required(env, "WORKER_URL").replace(/\/+$/, "") : "",
    workerSecret: needs.worker ? required(env, "WORKER_SECRET") : "",
    callbackUrl: env.get("REPORT_CALLBACK_URL") || null,
    callbackSecret: needs.worker ? "" : required(env, "CALLBACK_SECRET"),
    workerTimeoutMs: number(env, "WORKER_TIMEOUT_MS", DEFAULTS.workerTimeoutMs, 100, 60_000),
    workerRetryBudgetMs: number(env, "WORKER_RETRY_BUDGET_MS", DEFAULTS.workerRetryBudgetMs, 0, 120_000),
    workerMaxAttempts: number(env, "WORKER_MAX_ATTEMPTS", DEFAULTS.workerMaxAttempts, 1, 10),
  };
}
