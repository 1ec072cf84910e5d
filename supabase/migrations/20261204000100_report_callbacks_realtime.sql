-- Where the front end learns about its jobs, under row-level security:
--
-- * report_notifications: one row per job outcome, written by the report-callback Edge Function once
--   it has verified the worker's signed callback (Standard Webhooks). Deduplicated on webhook-id, which
--   the worker keeps the same across retries of one callback.
-- * Supabase Realtime (Postgres Changes): report_jobs and report_notifications join the
--   supabase_realtime publication, so a signed-in user's client receives the changes of its own rows
--   (status, stage, progress as the worker records them; the notification when the job ends).
--   Realtime checks each change against the subscriber's RLS policies and column privileges, the same
--   ones the Data API applies.

create table public.report_notifications (
    id             bigint generated always as identity primary key,
    webhook_id     text not null unique check (length(webhook_id) between 1 and 200),
    job_id         uuid not null references public.report_jobs (job_id),
    user_id        uuid not null,
    status         text not null check (status in ('completed', 'completed_refunded', 'failed')),
    report_id      uuid,
    refunded       boolean not null,
    error_code     text,
    error_message  text,
    created_at     timestamptz not null default now()
);
comment on table public.report_notifications is 'Job outcomes for the front end, from the verified worker callbacks.';
create index report_notifications_user on public.report_notifications (user_id, created_at desc);
create index report_notifications_job on public.report_notifications (job_id);

alter table public.report_notifications enable row level security;
create policy "users read their own notifications" on public.report_notifications
    for select to authenticated using (user_id = (select auth.uid()));
revoke all on table public.report_notifications from public, anon, authenticated;
grant select on table public.report_notifications to authenticated;
grant select, insert, update, delete on table public.report_notifications to service_role;

-- Record a verified callback once. {"duplicate": bool, "notification": {...}}: a retried delivery of
-- the same webhook-id records nothing more. The user comes from the job, not from the payload.
create function public.record_report_callback(
    p_webhook_id text, p_job_id uuid, p_status text, p_refunded boolean, p_report_id uuid,
    p_error_code text, p_error_message text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_user_id uuid;
    v_row public.report_notifications;
begin
    select j.user_id into v_user_id from public.report_jobs j where j.job_id = p_job_id;
    if not found then
        raise exception using errcode = 'PT404', hint = 'JOB_NOT_FOUND', message = format('no job %s', p_job_id);
    end if;
    insert into public.report_notifications (webhook_id, job_id, user_id, status, report_id, refunded, error_code, error_message)
    values (p_webhook_id, p_job_id, v_user_id, p_status, p_report_id, coalesce(p_refunded, false), p_error_code,
            left(p_error_message, 500))
    on conflict (webhook_id) do nothing
    returning * into v_row;
    if found then
        return jsonb_build_object('duplicate', false, 'notification', to_jsonb(v_row));
    end if;
    select * into v_row from public.report_notifications n where n.webhook_id = p_webhook_id;
    return jsonb_build_object('duplicate', true, 'notification', to_jsonb(v_row));
end;
$$;

revoke all on function public.record_report_callback(text, uuid, text, boolean, uuid, text, text)
    from public, anon, authenticated;
grant execute on function public.record_report_callback(text, uuid, text, boolean, uuid, text, text) to service_role;

-- Realtime. Every Supabase project has the publication; create it where it does not exist (a plain
-- PostgreSQL), and add each table once (the dashboard may have added it already).
do $$
declare
    v_table text;
begin
    if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
        create publication supabase_realtime;
    end if;
    foreach v_table in array array['report_jobs', 'report_notifications'] loop
        if not exists (select 1 from pg_publication_tables
                        where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = v_table) then
            execute format('alter publication supabase_realtime add table public.%I', v_table);
        end if;
    end loop;
end
$$;

notify pgrst, 'reload schema';
