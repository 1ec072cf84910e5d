-- The report worker's tables: jobs, reports, the token ledger, error logs and the callback outbox.
--
-- Applied by `supabase db push` (as role postgres). The worker writes only through the functions of
-- the next migration, with the service-role key; signed-in users may read their own jobs, reports,
-- token transactions and balance (row-level security on auth.uid()); anon reads nothing.
-- Relies on what every Supabase project has: schema auth with auth.uid(), and the roles anon,
-- authenticated and service_role (service_role has BYPASSRLS).

-- --------------------------------------------------------------------------------------------------
-- Jobs: one row per POST /generate-report; job_id (chosen by the Edge Function) is the idempotency key.
-- --------------------------------------------------------------------------------------------------
create table public.report_jobs (
    job_id            uuid primary key,
    user_id           uuid not null,
    ticker            text not null check (ticker ~ '^[A-Z0-9][A-Z0-9.-]{0,9}$'),
    callback_url      text check (length(callback_url) <= 2048),
    fingerprint       text not null check (length(fingerprint) between 1 and 128),  -- sha256 of the payload
    status            text not null default 'queued'
                      check (status in ('queued', 'running', 'completed', 'completed_refunded', 'failed')),
    stage             text not null default 'queued'
                      check (stage in ('queued', 'fetching', 'extracting', 'diffing', 'summarizing',
                                       'validating', 'saving', 'done')),
    progress          integer not null default 0 check (progress between 0 and 100),
    error_code        text,
    error_message     text,
    error_log_id      uuid,
    report_id         uuid,
    refunded          boolean not null default false,
    attempts          integer not null default 0 check (attempts >= 0),
    lease_owner       text,             -- "host:pid:nonce" of the process running (or about to run) the job
    lease_expires_at  timestamptz,      -- past it, the owner is presumed dead and recovery takes over
    heartbeat_at      timestamptz,
    create_call_id    uuid,             -- idempotency of create_job / claim_job replays (a retried
    claim_call_id     uuid,             -- call whose first attempt committed returns the first result)
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    -- a terminal state always carries what defines it
    constraint report_jobs_completed_has_report
        check (status not in ('completed', 'completed_refunded') or report_id is not null),
    constraint report_jobs_refunded_states
        check (refunded = (status in ('completed_refunded', 'failed'))),
    constraint report_jobs_failed_has_error
        check (status <> 'failed' or (error_code is not null and error_log_id is not null)),
    constraint report_jobs_terminal_has_no_lease
        check (status in ('queued', 'running') or lease_owner is null)
);
comment on table public.report_jobs is 'Report jobs of the 10-K report worker; written only through its functions.';

-- the recovery sweep: live jobs whose lease expired
create index report_jobs_lease on public.report_jobs (lease_expires_at) where status in ('queued', 'running');
-- a user's jobs, newest first (and the RLS predicate)
create index report_jobs_user on public.report_jobs (user_id, created_at desc);

-- --------------------------------------------------------------------------------------------------
-- Reports: at most one per job (unique job_id); the report object itself is JSON.
-- --------------------------------------------------------------------------------------------------
create table public.reports (
    id            uuid primary key,
    job_id        uuid not null unique references public.report_jobs (job_id),
    user_id       uuid not null,
    ticker        text not null,
    company_name  text,
    report        jsonb not null check (jsonb_typeof(report) = 'object'),
    is_valid      boolean not null,
    ai_cost_usd   numeric(12, 6) not null default 0 check (ai_cost_usd >= 0),
    total_tokens  integer not null default 0 check (total_tokens >= 0),
    created_at    timestamptz not null default now()
);
create index reports_user on public.reports (user_id, created_at desc);

-- --------------------------------------------------------------------------------------------------
-- Token balances and the ledger of every change to them.
-- --------------------------------------------------------------------------------------------------
create table public.token_balances (
    user_id     uuid primary key,
    balance     integer not null default 0 check (balance >= 0),  -- a spend can never overdraw
    updated_at  timestamptz not null default now()
);

create table public.token_transactions (
    id          uuid primary key default gen_random_uuid(),
    user_id     uuid not null,
    job_id      uuid references public.report_jobs (job_id),
    amount      integer not null check (amount <> 0),
    kind        text not null check (kind in ('refund', 'purchase', 'spend', 'adjustment')),
    reason      text check (length(reason) <= 500),
    created_at  timestamptz not null default now(),
    constraint token_transactions_refund_shape check (kind <> 'refund' or (job_id is not null and amount > 0))
);
-- Exactly-once refunds are enforced by the database, not just by the code path: a second refund
-- row for one job violates this unique index (the functions insert with ON CONFLICT DO NOTHING).
create unique index token_transactions_one_refund_per_job on public.token_transactions (job_id) where kind = 'refund';
create index token_transactions_user on public.token_transactions (user_id, created_at desc);
create index token_transactions_job on public.token_transactions (job_id);

-- --------------------------------------------------------------------------------------------------
-- Error logs: one row per failed job (the row the callback's error_log_id points to).
-- --------------------------------------------------------------------------------------------------
create table public.error_logs (
    id          uuid primary key,
    job_id      uuid references public.report_jobs (job_id),
    user_id     uuid,
    code        text not null check (code <> ''),  -- lenient: a failure must always be recordable
    message     text not null,
    stage       text,
    details     jsonb not null default '{}' check (jsonb_typeof(details) = 'object'),
    created_at  timestamptz not null default now()
);
create index error_logs_job on public.error_logs (job_id);

-- --------------------------------------------------------------------------------------------------
-- The callback outbox: the delivery row is written in the transaction that makes the job terminal.
-- --------------------------------------------------------------------------------------------------
create table public.callback_deliveries (
    id                text primary key check (id ~ '^msg_[0-9a-f]{32}$'),  -- Standard Webhooks webhook-id
    job_id            uuid not null unique references public.report_jobs (job_id),
    url               text not null,
    status            text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts          integer not null default 0 check (attempts >= 0),
    next_attempt_at   timestamptz,
    claimed_until     timestamptz,      -- a dispatcher holds the delivery until then
    claim_call_id     uuid,             -- which claim_due_callbacks call holds it (replays return it)
    last_status_code  integer check (last_status_code between 100 and 999),
    last_error        text,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    delivered_at      timestamptz,
    constraint callback_deliveries_delivered_at check (status <> 'delivered' or delivered_at is not null)
);
create index callback_deliveries_due on public.callback_deliveries (next_attempt_at) where status = 'pending';

create table public.callback_attempts (
    id           bigint generated always as identity primary key,
    delivery_id  text not null references public.callback_deliveries (id),
    attempt      integer not null check (attempt >= 1),
    started_at   timestamptz not null,
    status_code  integer check (status_code between 100 and 999),
    error        text,
    duration_ms  integer not null check (duration_ms >= 0),
    constraint callback_attempts_once unique (delivery_id, attempt)  -- a replayed record is a no-op
);

-- --------------------------------------------------------------------------------------------------
-- Row-level security: on for every table. Users read their own rows; nobody but the service role
-- (which bypasses RLS) writes. Tables without a policy (error_logs, callback_*) are worker-only.
-- --------------------------------------------------------------------------------------------------
alter table public.report_jobs enable row level security;
alter table public.reports enable row level security;
alter table public.token_balances enable row level security;
alter table public.token_transactions enable row level security;
alter table public.error_logs enable row level security;
alter table public.callback_deliveries enable row level security;
alter table public.callback_attempts enable row level security;

-- (select auth.uid()) is evaluated once per statement, not once per row (Supabase's RLS advice).
create policy "users read their own jobs" on public.report_jobs
    for select to authenticated using (user_id = (select auth.uid()));
create policy "users read their own reports" on public.reports
    for select to authenticated using (user_id = (select auth.uid()));
create policy "users read their own balance" on public.token_balances
    for select to authenticated using (user_id = (select auth.uid()));
create policy "users read their own token transactions" on public.token_transactions
    for select to authenticated using (user_id = (select auth.uid()));

-- --------------------------------------------------------------------------------------------------
-- Table privileges. Supabase's default privileges grant everything on new public tables to anon and
-- authenticated; take that back and grant only what the policies above are for.
-- --------------------------------------------------------------------------------------------------
revoke all on table public.report_jobs, public.reports, public.token_balances, public.token_transactions,
    public.error_logs, public.callback_deliveries, public.callback_attempts
    from public, anon, authenticated;

grant select on table public.report_jobs, public.reports, public.token_balances, public.token_transactions
    to authenticated;

grant usage on schema public to service_role;
grant select, insert, update, delete on table public.report_jobs, public.reports, public.token_balances,
    public.token_transactions, public.error_logs, public.callback_deliveries, public.callback_attempts
    to service_role;
