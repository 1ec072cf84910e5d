-- The report worker's functions: one per state change, each one transaction (PostgREST runs every
-- RPC in its own transaction), each idempotent on job_id and safe under concurrent calls.
--
-- How they stay exactly-once:
--   * every write to a job locks its row first (select ... for update, or an update on it), so two
--     concurrent complete_job/fail_job calls for one job run one after the other and the second
--     finds the job terminal and does nothing;
--   * refunds insert into token_transactions with ON CONFLICT DO NOTHING against the unique index
--     token_transactions_one_refund_per_job, and only a row actually inserted increments the balance;
--   * the caller retries on transient errors (postgrest-py never retries a POST), so a call whose
--     first attempt committed but whose answer was lost is replayed: each write carries an id chosen
--     once per logical call (p_call_id, p_report_id, p_error_log_id) and a replay returns the first
--     call's answer instead of "nothing changed".
--
-- All functions are SECURITY INVOKER: the worker calls them with the service role, which may write
-- the tables and bypasses RLS, so none needs the owner's rights. search_path is pinned to '' and
-- every name is schema-qualified. EXECUTE is revoked from public, anon and authenticated at the end.
-- Every function returns JSON (or a scalar) so the result travels unchanged through PostgREST.

-- --------------------------------------------------------------------------------------------------
-- Tokens
-- --------------------------------------------------------------------------------------------------

-- Add `amount` (negative to spend) to a user's balance and return the new balance. A spend below
-- zero violates token_balances' check (SQLSTATE 23514, HTTP 400). Called by the refunds below and
-- by the Edge Function (service role) when it spends a token.
create or replace function public.increment_tokens(user_id uuid, amount integer)
returns integer
language sql
set search_path = ''
as $$
    -- Two steps, not INSERT ... ON CONFLICT DO UPDATE: the check constraint would judge the proposed
    -- row (balance = amount) and refuse any spend. The UPDATE locks the row, so concurrent calls add up.
    insert into public.token_balances (user_id, balance) values (increment_tokens.user_id, 0)
    on conflict on constraint token_balances_pkey do nothing;
    update public.token_balances b
       set balance = b.balance + increment_tokens.amount, updated_at = now()
     where b.user_id = increment_tokens.user_id
    returning b.balance;
$$;

-- --------------------------------------------------------------------------------------------------
-- Jobs
-- --------------------------------------------------------------------------------------------------

create or replace function public.ping()
returns boolean
language sql
stable
set search_path = ''
as $$ select true $$;

-- Insert a queued job, or return the existing one. {"created": bool, "job": {...}}.
-- The same job_id with another payload (fingerprint) raises PT409 -> HTTP 409, code "PT409".
create or replace function public.create_job(
    p_job_id uuid, p_user_id uuid, p_ticker text, p_callback_url text, p_fingerprint text,
    p_lease_owner text, p_lease_seconds double precision, p_call_id uuid)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_job public.report_jobs;
begin
    insert into public.report_jobs (job_id, user_id, ticker, callback_url, fingerprint, lease_owner,
                                    lease_expires_at, create_call_id)
    values (p_job_id, p_user_id, p_ticker, p_callback_url, p_fingerprint, p_lease_owner,
            case when p_lease_owner is not null then now() + make_interval(secs => p_lease_seconds) end,
            p_call_id)
    on conflict (job_id) do nothing   -- a concurrent insert of the same id waits here, then loses
    returning * into v_job;
    if found then
        return jsonb_build_object('created', true, 'job', to_jsonb(v_job));
    end if;

    select * into v_job from public.report_jobs where job_id = p_job_id;
    if v_job.fingerprint <> p_fingerprint then
        raise exception using errcode = 'PT409', hint = 'JOB_CONFLICT',
            message = format('job %s exists with a different payload', p_job_id);
    end if;
    -- created stays true for a replay of the call that created it (its first answer was lost)
    return jsonb_build_object('created', coalesce(v_job.create_call_id = p_call_id, false), 'job', to_jsonb(v_job));
end;
$$;

create or replace function public.get_job(p_job_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$ select to_jsonb(j) from public.report_jobs j where j.job_id = p_job_id $$;

-- queued -> running under p_owner's lease; null when the job is not queued (and this is no replay).
create or replace function public.claim_job(p_job_id uuid, p_owner text, p_lease_seconds double precision, p_call_id uuid)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_job public.report_jobs;
begin
    -- Concurrent claims queue on the row lock; the losers re-check status = 'queued' and match nothing.
    update public.report_jobs
       set status = 'running', stage = 'fetching', progress = 5, lease_owner = p_owner,
           lease_expires_at = now() + make_interval(secs => p_lease_seconds), heartbeat_at = now(),
           attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now(),
           claim_call_id = p_call_id
     where job_id = p_job_id and status = 'queued'
    returning * into v_job;
    if found then
        return to_jsonb(v_job);
    end if;

    select * into v_job from public.report_jobs
     where job_id = p_job_id and status = 'running' and lease_owner = p_owner and claim_call_id = p_call_id;
    return case when found then to_jsonb(v_job) end;
end;
$$;

-- Progress never goes back; false when p_owner no longer holds the running job.
create or replace function public.record_progress(p_job_id uuid, p_owner text, p_stage text, p_progress integer)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
    update public.report_jobs
       set stage = p_stage, progress = greatest(progress, p_progress), updated_at = now()
     where job_id = p_job_id and status = 'running' and lease_owner = p_owner;
    return found;
end;
$$;

-- Extend the lease of a queued or running job held by p_owner; false when it is not held.
create or replace function public.heartbeat(p_job_id uuid, p_owner text, p_lease_seconds double precision)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
    update public.report_jobs
       set lease_expires_at = now() + make_interval(secs => p_lease_seconds), heartbeat_at = now()
     where job_id = p_job_id and status in ('queued', 'running') and lease_owner = p_owner;
    return found;
end;
$$;

-- Save the report, set completed (or completed_refunded and refund once), queue the callback:
-- one transaction. p_owner null acts for anyone. {"changed": bool, "job": {...}}.
create or replace function public.complete_job(
    p_job_id uuid, p_owner text, p_report_id uuid, p_ticker text, p_company_name text, p_report jsonb,
    p_is_valid boolean, p_ai_cost_usd numeric, p_total_tokens integer, p_refund boolean, p_refund_reason text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_job public.report_jobs;
    v_refund boolean := coalesce(p_refund, false);
begin
    select * into v_job from public.report_jobs where job_id = p_job_id for update;
    if not found then
        raise exception using errcode = 'PT404', hint = 'JOB_NOT_FOUND', message = format('no job %s', p_job_id);
    end if;
    if v_job.status in ('completed', 'completed_refunded', 'failed') then
        -- already finished: by this very call (a replay: same report id) or by someone else
        return jsonb_build_object('changed', coalesce(v_job.report_id = p_report_id, false), 'job', to_jsonb(v_job));
    end if;
    if p_owner is not null and (v_job.status <> 'running' or v_job.lease_owner is distinct from p_owner) then
        return jsonb_build_object('changed', false, 'job', to_jsonb(v_job));
    end if;

    insert into public.reports (id, job_id, user_id, ticker, company_name, report, is_valid, ai_cost_usd, total_tokens)
    values (p_report_id, p_job_id, v_job.user_id, p_ticker, p_company_name, p_report, p_is_valid,
            coalesce(p_ai_cost_usd, 0), coalesce(p_total_tokens, 0));

    if v_refund then
        insert into public.token_transactions (user_id, job_id, amount, kind, reason)
        values (v_job.user_id, p_job_id, 1, 'refund', left(coalesce(p_refund_reason, 'report quality below standard'), 500))
        on conflict (job_id) where kind = 'refund' do nothing;
        if found then
            perform public.increment_tokens(v_job.user_id, 1);
        end if;
    end if;

    update public.report_jobs
       set status = case when v_refund then 'completed_refunded' else 'completed' end,
           stage = 'done', progress = 100, report_id = p_report_id, refunded = v_refund,
           lease_owner = null, lease_expires_at = null, finished_at = now(), updated_at = now()
     where job_id = p_job_id
    returning * into v_job;

    if v_job.callback_url is not null then  -- the outbox row, in the same transaction
        insert into public.callback_deliveries (id, job_id, url, next_attempt_at)
        values ('msg_' || replace(p_job_id::text, '-', ''), p_job_id, v_job.callback_url, now())
        on conflict do nothing;
    end if;
    return jsonb_build_object('changed', true, 'job', to_jsonb(v_job));
end;
$$;

-- Log the error, set failed, refund once, queue the callback: one transaction. p_owner null acts for
-- anyone; p_only_if_lease_expired makes recovery leave a job whose owner is still alive.
create or replace function public.fail_job(
    p_job_id uuid, p_error_log_id uuid, p_code text, p_message text, p_stage text, p_details jsonb,
    p_owner text, p_only_if_lease_expired boolean)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_job public.report_jobs;
begin
    select * into v_job from public.report_jobs where job_id = p_job_id for update;
    if not found then
        raise exception using errcode = 'PT404', hint = 'JOB_NOT_FOUND', message = format('no job %s', p_job_id);
    end if;
    if v_job.status in ('completed', 'completed_refunded', 'failed') then
        -- already finished: by this very call (a replay: same error log id) or by someone else
        return jsonb_build_object('changed', coalesce(v_job.error_log_id = p_error_log_id, false), 'job', to_jsonb(v_job));
    end if;
    if p_owner is not null and (v_job.status <> 'running' or v_job.lease_owner is distinct from p_owner) then
        return jsonb_build_object('changed', false, 'job', to_jsonb(v_job));
    end if;
    -- clock_timestamp(), not now(): this transaction may have waited for the row lock
    if coalesce(p_only_if_lease_expired, false)
       and (v_job.lease_expires_at is null or v_job.lease_expires_at > clock_timestamp()) then
        return jsonb_build_object('changed', false, 'job', to_jsonb(v_job));
    end if;

    insert into public.error_logs (id, job_id, user_id, code, message, stage, details)
    values (p_error_log_id, p_job_id, v_job.user_id, p_code, p_message, p_stage, coalesce(p_details, '{}'));

    insert into public.token_transactions (user_id, job_id, amount, kind, reason)
    values (v_job.user_id, p_job_id, 1, 'refund', left('job failed: ' || p_code, 500))
    on conflict (job_id) where kind = 'refund' do nothing;
    if found then
        perform public.increment_tokens(v_job.user_id, 1);
    end if;

    update public.report_jobs
       set status = 'failed', error_code = p_code, error_message = p_message, error_log_id = p_error_log_id,
           refunded = true, lease_owner = null, lease_expires_at = null, finished_at = now(), updated_at = now()
     where job_id = p_job_id
    returning * into v_job;

    if v_job.callback_url is not null then
        insert into public.callback_deliveries (id, job_id, url, next_attempt_at)
        values ('msg_' || replace(p_job_id::text, '-', ''), p_job_id, v_job.callback_url, now())
        on conflict do nothing;
    end if;
    return jsonb_build_object('changed', true, 'job', to_jsonb(v_job));
end;
$$;

-- Queued or running jobs whose lease has expired (their process died), oldest first.
create or replace function public.expired_jobs(p_limit integer)
returns jsonb
language sql
stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(to_jsonb(j) order by j.lease_expires_at), '[]'::jsonb)
      from (select * from public.report_jobs
             where status in ('queued', 'running') and lease_expires_at < now()
             order by lease_expires_at
             limit p_limit) j
$$;

-- --------------------------------------------------------------------------------------------------
-- Reads for operators and tests
-- --------------------------------------------------------------------------------------------------

create or replace function public.get_report(p_report_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$ select r.report from public.reports r where r.id = p_report_id $$;

create or replace function public.token_balance(p_user_id uuid)
returns integer
language sql
stable
set search_path = ''
as $$ select coalesce((select b.balance from public.token_balances b where b.user_id = p_user_id), 0) $$;

create or replace function public.refund_count(p_job_id uuid)
returns integer
language sql
stable
set search_path = ''
as $$ select count(*)::integer from public.token_transactions t where t.job_id = p_job_id and t.kind = 'refund' $$;

create or replace function public.error_logs(p_job_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(to_jsonb(e) order by e.created_at, e.id), '[]'::jsonb)
      from public.error_logs e where e.job_id = p_job_id
$$;

-- --------------------------------------------------------------------------------------------------
-- The callback outbox
-- --------------------------------------------------------------------------------------------------

-- Pending deliveries whose time has come, hidden from other dispatchers for p_claim_seconds.
-- SKIP LOCKED lets concurrent dispatchers take disjoint sets instead of waiting on each other.
create or replace function public.claim_due_callbacks(p_limit integer, p_claim_seconds double precision, p_call_id uuid)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_claimed jsonb;
begin
    -- a replay of this very call returns what it claimed the first time
    select jsonb_agg(to_jsonb(d) order by d.next_attempt_at) into v_claimed
      from public.callback_deliveries d
     where d.claim_call_id = p_call_id and d.status = 'pending' and d.claimed_until > now();
    if v_claimed is not null then
        return v_claimed;
    end if;

    with due as (
        select d.id from public.callback_deliveries d
         where d.status = 'pending' and d.next_attempt_at <= now()
           and (d.claimed_until is null or d.claimed_until <= now())
         order by d.next_attempt_at
         limit p_limit
           for update skip locked
    ), claimed as (
        update public.callback_deliveries d
           set claimed_until = now() + make_interval(secs => p_claim_seconds), claim_call_id = p_call_id
          from due where d.id = due.id
        returning d.*
    )
    select coalesce(jsonb_agg(to_jsonb(c) order by c.next_attempt_at), '[]'::jsonb) into v_claimed from claimed c;
    return v_claimed;
end;
$$;

-- Record one delivery attempt and the delivery's new state. A replayed attempt (same number) is not
-- recorded twice, and an older attempt never overwrites a newer state.
create or replace function public.record_callback_attempt(
    p_delivery_id text, p_attempt integer, p_started_at timestamptz, p_status_code integer, p_error text,
    p_duration_ms integer, p_status text, p_next_attempt_at timestamptz)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
    insert into public.callback_attempts (delivery_id, attempt, started_at, status_code, error, duration_ms)
    values (p_delivery_id, p_attempt, p_started_at, p_status_code, p_error, p_duration_ms)
    on conflict on constraint callback_attempts_once do nothing;

    update public.callback_deliveries
       set status = p_status, attempts = p_attempt, next_attempt_at = p_next_attempt_at,
           claimed_until = null, claim_call_id = null, last_status_code = p_status_code, last_error = p_error,
           updated_at = now(),
           delivered_at = case when p_status = 'delivered' then coalesce(delivered_at, now()) else delivered_at end
     where id = p_delivery_id and attempts <= p_attempt;
    return found;
end;
$$;

create or replace function public.callback_delivery(p_job_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$ select to_jsonb(d) from public.callback_deliveries d where d.job_id = p_job_id $$;

create or replace function public.callback_attempts(p_delivery_id text)
returns jsonb
language sql
stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(to_jsonb(a) order by a.attempt), '[]'::jsonb)
      from public.callback_attempts a where a.delivery_id = p_delivery_id
$$;

-- --------------------------------------------------------------------------------------------------
-- Privileges: PostgreSQL grants EXECUTE to PUBLIC by default and Supabase's default privileges grant
-- it to anon and authenticated; only the service role may call these.
-- --------------------------------------------------------------------------------------------------
revoke all on function
    public.increment_tokens(uuid, integer),
    public.ping(),
    public.create_job(uuid, uuid, text, text, text, text, double precision, uuid),
    public.get_job(uuid),
    public.claim_job(uuid, text, double precision, uuid),
    public.record_progress(uuid, text, text, integer),
    public.heartbeat(uuid, text, double precision),
    public.complete_job(uuid, text, uuid, text, text, jsonb, boolean, numeric, integer, boolean, text),
    public.fail_job(uuid, uuid, text, text, text, jsonb, text, boolean),
    public.expired_jobs(integer),
    public.get_report(uuid),
    public.token_balance(uuid),
    public.refund_count(uuid),
    public.error_logs(uuid),
    public.claim_due_callbacks(integer, double precision, uuid),
    public.record_callback_attempt(text, integer, timestamptz, integer, text, integer, text, timestamptz),
    public.callback_delivery(uuid),
    public.callback_attempts(text)
from public, anon, authenticated;

grant execute on function
    public.increment_tokens(uuid, integer),
    public.ping(),
    public.create_job(uuid, uuid, text, text, text, text, double precision, uuid),
    public.get_job(uuid),
    public.claim_job(uuid, text, double precision, uuid),
    public.record_progress(uuid, text, text, integer),
    public.heartbeat(uuid, text, double precision),
    public.complete_job(uuid, text, uuid, text, text, jsonb, boolean, numeric, integer, boolean, text),
    public.fail_job(uuid, uuid, text, text, text, jsonb, text, boolean),
    public.expired_jobs(integer),
    public.get_report(uuid),
    public.token_balance(uuid),
    public.refund_count(uuid),
    public.error_logs(uuid),
    public.claim_due_callbacks(integer, double precision, uuid),
    public.record_callback_attempt(text, integer, timestamptz, integer, text, integer, text, timestamptz),
    public.callback_delivery(uuid),
    public.callback_attempts(text)
to service_role;

-- PostgREST caches function signatures; tell it to reload (Supabase also does this on DDL itself).
notify pgrst, 'reload schema';
