-- The token ledger: every change to a balance is a row of token_transactions, and a balance is the
-- sum of its user's rows. The loop around the worker is closed in the database:
--
--   credit_tokens(user, amount, reference)   a purchase, once per reference (a payment id)
--   spend_token_for_job(user, job, ticker, callback_url)
--                                            one transaction: the spend row (one per job) and the job,
--                                            recorded 'queued' and waiting for a worker to accept it
--   complete_job / fail_job (the worker)     a refund gives back exactly the job's spend, at most once
--   refund_unaccepted_job (the Edge Function, when no worker took the job)
--                                            the same guard: refunds only a job no worker accepted
--
-- A job posted to the worker directly (development, operators) has no spend: its refund decision is
-- recorded (report_jobs.refunded) and nothing is credited, since the ledger gives back only what was
-- spent. increment_tokens, which changed a balance without a ledger row, is dropped.
--
-- The rules are the database's, not just the functions': token_balances is written only by the
-- ledger's trigger (service_role may no longer write it), the ledger is append-only (no UPDATE or
-- DELETE for service_role), a refund must match its job's spend (trigger), one spend and one refund
-- per job and one purchase per reference (unique indexes), and a balance never goes below zero.
-- Apply after 20261125000400; on a database that already has rows, each user's balance is carried
-- into the ledger as an 'adjustment' row ("opening balance") so that balance = ledger holds from here.

-- --------------------------------------------------------------------------------------------------
-- Jobs the spend records wait for a worker: accepted_at is null until POST /generate-report accepts
-- the job (create_job) or recovery adopts it. Jobs recorded before, or by the worker itself, are
-- accepted when recorded.
-- --------------------------------------------------------------------------------------------------
alter table public.report_jobs add column accepted_at timestamptz;
update public.report_jobs set accepted_at = created_at;
alter table public.report_jobs alter column accepted_at set default now();

-- Who holds a job the spend recorded until a worker accepts it. Nobody renews this lease: if no worker
-- accepts the job within it (the Edge Function died between the spend and its POST), a worker's lease
-- sweeper adopts and runs the job, or fails and refunds it when it is too old.
create function public.edge_function_lease() returns interval
language sql immutable set search_path = '' as $$ select interval '10 minutes' $$;

-- --------------------------------------------------------------------------------------------------
-- The ledger's shape. NOT VALID: rows written before this migration are history; new rows must conform.
-- --------------------------------------------------------------------------------------------------
alter table public.token_transactions add column reference text check (length(reference) between 1 and 200);
alter table public.token_transactions
    add constraint token_transactions_spend_shape check (kind <> 'spend' or (job_id is not null and amount < 0)) not valid;
alter table public.token_transactions
    add constraint token_transactions_purchase_shape check (kind <> 'purchase' or (amount > 0 and reference is not null)) not valid;
create unique index token_transactions_one_spend_per_job on public.token_transactions (job_id) where kind = 'spend';
create unique index token_transactions_one_purchase_per_reference on public.token_transactions (reference) where kind = 'purchase';

-- Opening balances: whatever the balances say that the ledger does not (spends through
-- increment_tokens, credits made by hand) becomes one adjustment row per user.
insert into public.token_transactions (user_id, amount, kind, reason)
select coalesce(b.user_id, l.user_id), coalesce(b.balance, 0) - coalesce(l.total, 0), 'adjustment',
       'opening balance: the ledger starts here'
  from public.token_balances b
  full join (select t.user_id, sum(t.amount) as total from public.token_transactions t group by t.user_id) l
    on l.user_id = b.user_id
 where coalesce(b.balance, 0) <> coalesce(l.total, 0);

-- --------------------------------------------------------------------------------------------------
-- The balance follows the ledger. The trigger is the only writer of token_balances (SECURITY DEFINER:
-- the service role may read balances but not write them). A row that would take a balance below zero
-- is refused with PT402 (HTTP 402 through PostgREST) and its whole transaction rolls back.
-- --------------------------------------------------------------------------------------------------
create function public.apply_token_transaction() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_balance integer;
    v_spent integer;
begin
    if new.kind = 'refund' then
        select t.amount into v_spent from public.token_transactions t where t.job_id = new.job_id and t.kind = 'spend';
        if v_spent is null or new.amount <> -v_spent then
            raise exception using errcode = '23514', hint = 'REFUND_WITHOUT_SPEND',
                message = format('a refund must give back exactly the spend of job %s (spent: %s, refund: %s)',
                                 new.job_id, coalesce(-v_spent, 0), new.amount);
        end if;
    end if;

    insert into public.token_balances (user_id, balance) values (new.user_id, 0)
    on conflict (user_id) do nothing;
    select b.balance into v_balance from public.token_balances b where b.user_id = new.user_id for update;
    if v_balance + new.amount < 0 then
        raise exception using errcode = 'PT402', hint = 'INSUFFICIENT_TOKENS', message = 'insufficient tokens',
            detail = format('the balance is %s; this needs %s', v_balance, -new.amount);
    end if;
    update public.token_balances b set balance = v_balance + new.amount, updated_at = now() where b.user_id = new.user_id;
    return null;
end;
$$;
revoke all on function public.apply_token_transaction() from public, anon, authenticated, service_role;

create trigger token_transactions_apply
    after insert on public.token_transactions
    for each row execute function public.apply_token_transaction();

revoke insert, update, delete on table public.token_balances from service_role;
revoke update, delete on table public.token_transactions from service_role;

-- --------------------------------------------------------------------------------------------------
-- Purchases
-- --------------------------------------------------------------------------------------------------

-- Credit a purchase of `p_amount` tokens, once per reference (e.g. the payment provider's id): a
-- replay credits nothing and answers the current balance. {"credited": bool, "balance": int}.
-- The same reference for another user or amount is refused (PT409, hint REFERENCE_CONFLICT).
create function public.credit_tokens(p_user_id uuid, p_amount integer, p_reference text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_id uuid;
    v_row public.token_transactions;
begin
    if p_user_id is null or p_amount is null or p_amount <= 0 or p_amount > 100000 then
        raise exception using errcode = 'PT400', hint = 'INVALID_AMOUNT',
            message = 'credit_tokens needs a user and an amount between 1 and 100000';
    end if;
    if p_reference is null or length(p_reference) not between 1 and 200 then
        raise exception using errcode = 'PT400', hint = 'INVALID_REFERENCE',
            message = 'credit_tokens needs a reference (a payment id) of 1-200 characters';
    end if;
    insert into public.token_transactions (user_id, amount, kind, reason, reference)
    values (p_user_id, p_amount, 'purchase', 'purchase', p_reference)
    on conflict (reference) where kind = 'purchase' do nothing
    returning id into v_id;
    if v_id is null then
        select * into v_row from public.token_transactions t where t.kind = 'purchase' and t.reference = p_reference;
        if v_row.user_id <> p_user_id or v_row.amount <> p_amount then
            raise exception using errcode = 'PT409', hint = 'REFERENCE_CONFLICT',
                message = format('reference %s was already credited with another user or amount', p_reference);
        end if;
    end if;
    return jsonb_build_object('credited', v_id is not null, 'balance', public.token_balance(p_user_id));
end;
$$;

-- --------------------------------------------------------------------------------------------------
-- Spending a token for a job
-- --------------------------------------------------------------------------------------------------

-- The worker's payload fingerprint (job.JobRequest.fingerprint): sha256 of the JSON array
-- [user_id, ticker, callback_url] written without spaces, so that the worker recognises the job the
-- spend recorded when the Edge Function POSTs the same payload (and answers 409 to another one).
create function public.job_fingerprint(p_user_id uuid, p_ticker text, p_callback_url text)
returns text
language sql
immutable
set search_path = ''
as $$
    select encode(sha256(convert_to(
        '[' || to_json(p_user_id::text)::text || ',' || to_json(p_ticker)::text || ','
            || coalesce(to_json(p_callback_url)::text, 'null') || ']', 'UTF8')), 'hex')
$$;

-- Spend one token for a job and record the job, in one transaction. {"replayed": bool, "balance": int,
-- "job": {...}}. The ticker is normalised as the worker does (upper case, "." -> "-").
-- Refusals: PT402 (hint INSUFFICIENT_TOKENS) when the balance is short: nothing is recorded;
-- PT400 for a bad ticker or callback URL; PT409 (hint JOB_CONFLICT) when the job_id exists with another
-- payload or without a spend. The same job_id again is a replay: it spends nothing and answers the
-- recorded job (concurrent replays wait for the first on the primary key).
create function public.spend_token_for_job(p_user_id uuid, p_job_id uuid, p_ticker text, p_callback_url text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_ticker text := upper(replace(btrim(coalesce(p_ticker, '')), '.', '-'));
    v_fingerprint text;
    v_job public.report_jobs;
begin
    if p_user_id is null or p_job_id is null then
        raise exception using errcode = 'PT400', hint = 'INVALID_FIELD', message = 'user_id and job_id are required';
    end if;
    if v_ticker !~ '^[A-Z0-9][A-Z0-9-]{0,9}$' then
        raise exception using errcode = 'PT400', hint = 'INVALID_TICKER',
            message = 'ticker must be 1-10 characters of A-Z, 0-9, ''.'' or ''-''';
    end if;
    -- ASCII only: the worker's fingerprint escapes other characters, this one would not
    if p_callback_url is not null and (p_callback_url !~ '^[\x21-\x7e]+$' or length(p_callback_url) > 2048) then
        raise exception using errcode = 'PT400', hint = 'INVALID_CALLBACK_URL',
            message = 'callback_url must be at most 2048 printable ASCII characters';
    end if;
    v_fingerprint := public.job_fingerprint(p_user_id, v_ticker, p_callback_url);

    insert into public.report_jobs (job_id, user_id, ticker, callback_url, fingerprint, lease_owner,
                                    lease_expires_at, accepted_at)
    values (p_job_id, p_user_id, v_ticker, p_callback_url, v_fingerprint, 'edge-function',
            now() + public.edge_function_lease(), null)
    on conflict (job_id) do nothing   -- a concurrent spend of the same job waits here, then replays
    returning * into v_job;

    if not found then
        select * into v_job from public.report_jobs where job_id = p_job_id;
        if v_job.fingerprint <> v_fingerprint then
            raise exception using errcode = 'PT409', hint = 'JOB_CONFLICT',
                message = format('job %s exists with a different payload', p_job_id);
        end if;
        if not exists (select 1 from public.token_transactions t where t.job_id = p_job_id and t.kind = 'spend') then
            raise exception using errcode = 'PT409', hint = 'JOB_CONFLICT',
                message = format('job %s was recorded without a spend (posted to the worker directly)', p_job_id);
        end if;
        return jsonb_build_object('replayed', true, 'balance', public.token_balance(p_user_id), 'job', to_jsonb(v_job));
    end if;

    -- the ledger's trigger refuses a short balance (PT402), which rolls back the job row too
    insert into public.token_transactions (user_id, job_id, amount, kind, reason)
    values (p_user_id, p_job_id, -1, 'spend', 'report ' || v_ticker);
    return jsonb_build_object('replayed', false, 'balance', public.token_balance(p_user_id), 'job', to_jsonb(v_job));
end;
$$;

-- --------------------------------------------------------------------------------------------------
-- Refunds: one rule for every path
-- --------------------------------------------------------------------------------------------------

-- Give back the job's spend, once; the amount credited (0: no spend, or already refunded).
-- Callers hold the job's row lock; the unique index makes a concurrent second refund a no-op anyway.
create function public.refund_job_spend(p_job_id uuid, p_reason text)
returns integer
language plpgsql
set search_path = ''
as $$
declare
    v_spend public.token_transactions;
    v_id uuid;
begin
    select * into v_spend from public.token_transactions t where t.job_id = p_job_id and t.kind = 'spend';
    if not found then
        return 0;  -- posted to the worker directly: nothing was spent, so nothing is given back
    end if;
    insert into public.token_transactions (user_id, job_id, amount, kind, reason)
    values (v_spend.user_id, p_job_id, -v_spend.amount, 'refund', left(coalesce(p_reason, 'refund'), 500))
    on conflict (job_id) where kind = 'refund' do nothing
    returning id into v_id;
    return case when v_id is null then 0 else -v_spend.amount end;
end;
$$;

-- The worker accepts a job (POST /generate-report): insert it queued, or accept the one the spend
-- recorded, or return the existing one. {"created": bool, "job": {...}}: created is true for the call
-- that accepted the job (and its replays), so exactly one POST runs it. A job ended before any worker
-- accepted it (refund_unaccepted_job) is returned as it is. Another payload: PT409.
create or replace function public.create_job(
    p_job_id uuid, p_user_id uuid, p_ticker text, p_callback_url text, p_fingerprint text,
    p_lease_owner text, p_lease_seconds double precision, p_call_id uuid)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_job public.report_jobs;
    v_lease_expires_at timestamptz :=
        case when p_lease_owner is not null then now() + make_interval(secs => p_lease_seconds) end;
begin
    insert into public.report_jobs (job_id, user_id, ticker, callback_url, fingerprint, lease_owner,
                                    lease_expires_at, create_call_id, accepted_at)
    values (p_job_id, p_user_id, p_ticker, p_callback_url, p_fingerprint, p_lease_owner, v_lease_expires_at,
            p_call_id, now())
    on conflict (job_id) do nothing   -- a concurrent insert of the same id waits here, then loses
    returning * into v_job;
    if found then
        return jsonb_build_object('created', true, 'job', to_jsonb(v_job));
    end if;

    select * into v_job from public.report_jobs where job_id = p_job_id for update;
    if v_job.fingerprint <> p_fingerprint then
        raise exception using errcode = 'PT409', hint = 'JOB_CONFLICT',
            message = format('job %s exists with a different payload', p_job_id);
    end if;
    if v_job.accepted_at is null and v_job.status = 'queued' then  -- recorded by the spend: accept it now
        update public.report_jobs
           set accepted_at = now(), lease_owner = p_lease_owner, lease_expires_at = v_lease_expires_at,
               create_call_id = p_call_id, updated_at = now()
         where job_id = p_job_id
        returning * into v_job;
        return jsonb_build_object('created', true, 'job', to_jsonb(v_job));
    end if;
    -- created stays true for a replay of the call that created it (its first answer was lost)
    return jsonb_build_object('created', coalesce(v_job.create_call_id = p_call_id, false), 'job', to_jsonb(v_job));
end;
$$;

-- Recovery adopts a queued job whose lease lapsed; a job the spend recorded is accepted by adopting it.
create or replace function public.adopt_job(p_job_id uuid, p_owner text, p_lease_seconds double precision)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_job public.report_jobs;
begin
    update public.report_jobs
       set lease_owner = p_owner, lease_expires_at = now() + make_interval(secs => p_lease_seconds),
           heartbeat_at = now(), updated_at = now(), accepted_at = coalesce(accepted_at, now())
     where job_id = p_job_id and status = 'queued' and lease_expires_at < now()
    returning * into v_job;
    return case when found then to_jsonb(v_job) end;
end;
$$;

-- As in 20261125000100, but the refund gives back the job's spend (nothing when there is none).
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
        perform public.refund_job_spend(p_job_id, coalesce(p_refund_reason, 'report quality below standard'));
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

-- As in 20261125000100, but the refund gives back the job's spend (nothing when there is none).
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

    perform public.refund_job_spend(p_job_id, 'job failed: ' || p_code);

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

-- The Edge Function's refund, when no worker took the job (it refused, or could not be reached):
-- under the job's row lock, a job no worker accepted is failed (p_code), refunded once and its
-- callback queued; a job a worker accepted is left alone, since the worker's outcome refunds it.
-- {"changed": bool, "accepted": bool, "job": {...}}; changed is true for the call that ended the job
-- (and its replays, recognised by p_error_log_id).
create function public.refund_unaccepted_job(p_job_id uuid, p_error_log_id uuid, p_code text, p_message text)
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
    if v_job.accepted_at is not null or v_job.status <> 'queued' then
        return jsonb_build_object('changed', coalesce(v_job.error_log_id = p_error_log_id, false),
                                  'accepted', v_job.accepted_at is not null, 'job', to_jsonb(v_job));
    end if;

    insert into public.error_logs (id, job_id, user_id, code, message, stage, details)
    values (p_error_log_id, p_job_id, v_job.user_id, p_code, p_message, 'queued', '{"by": "edge-function"}');

    perform public.refund_job_spend(p_job_id, 'not accepted by a worker: ' || p_code);

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
    return jsonb_build_object('changed', true, 'accepted', false, 'job', to_jsonb(v_job));
end;
$$;

-- --------------------------------------------------------------------------------------------------
-- Reads: the ledger, and its check
-- --------------------------------------------------------------------------------------------------

-- A user's ledger rows, oldest first.
create function public.token_ledger(p_user_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object('kind', t.kind, 'amount', t.amount, 'job_id', t.job_id,
                                                 'reference', t.reference, 'reason', t.reason,
                                                 'created_at', t.created_at) order by t.created_at, t.id), '[]'::jsonb)
      from public.token_transactions t where t.user_id = p_user_id
$$;

-- The ledger's check: every user whose balance is not the sum of their ledger rows, with both
-- figures. An empty array means the books balance.
create function public.ledger_mismatches()
returns jsonb
language sql
stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object('user_id', m.user_id, 'balance', m.balance, 'ledger', m.ledger)
                              order by m.user_id), '[]'::jsonb)
      from (select coalesce(b.user_id, l.user_id) as user_id, coalesce(b.balance, 0) as balance,
                   coalesce(l.total, 0) as ledger
              from public.token_balances b
              full join (select t.user_id, sum(t.amount)::integer as total
                           from public.token_transactions t group by t.user_id) l on l.user_id = b.user_id
             where coalesce(b.balance, 0) <> coalesce(l.total, 0)) m
$$;

-- --------------------------------------------------------------------------------------------------
-- increment_tokens changed balances without a ledger row: gone. (An Edge Function still calling it
-- gets 404 PGRST202 instead of silently spending a token tied to nothing.)
-- --------------------------------------------------------------------------------------------------
drop function public.increment_tokens(uuid, integer);

revoke all on function
    public.edge_function_lease(),
    public.credit_tokens(uuid, integer, text),
    public.job_fingerprint(uuid, text, text),
    public.spend_token_for_job(uuid, uuid, text, text),
    public.refund_job_spend(uuid, text),
    public.refund_unaccepted_job(uuid, uuid, text, text),
    public.token_ledger(uuid),
    public.ledger_mismatches()
from public, anon, authenticated;

grant execute on function
    public.edge_function_lease(),
    public.credit_tokens(uuid, integer, text),
    public.job_fingerprint(uuid, text, text),
    public.spend_token_for_job(uuid, uuid, text, text),
    public.refund_job_spend(uuid, text),
    public.refund_unaccepted_job(uuid, uuid, text, text),
    public.token_ledger(uuid),
    public.ledger_mismatches()
to service_role;

notify pgrst, 'reload schema';
