-- Recovery may resume a job that never started: a queued job whose lease lapsed (the process that
-- accepted it died or shut down before running it) passes to p_owner, who will run it. Returns the
-- job, or null when it is not queued or its lease is still alive. Concurrent adopters queue on the
-- row lock; the losers re-check the lease and match nothing, so one process wins.
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
           heartbeat_at = now(), updated_at = now()
     where job_id = p_job_id and status = 'queued' and lease_expires_at < now()
    returning * into v_job;
    return case when found then to_jsonb(v_job) end;
end;
$$;

revoke execute on function public.adopt_job(uuid, text, double precision) from public, anon, authenticated;
grant execute on function public.adopt_job(uuid, text, double precision) to service_role;
