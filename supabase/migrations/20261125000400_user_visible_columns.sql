-- Signed-in users read their own jobs and reports (the RLS policies of the first migration), but not
-- every column of them: the worker's bookkeeping (lease owner "host:pid:nonce", heartbeats, call ids,
-- the payload fingerprint, the callback URL of the Edge Function, the attempt count) and our cost of
-- a report (ai_cost_usd, total_tokens) are nobody's business but the service role's.
--
-- Column privileges replace the table-wide SELECT of 20261125000000: a user's query must name its
-- columns (`select=status,stage,...`); `select=*` and any hidden column answer 42501 (PostgREST: 401
-- or 403). The RLS policies still pick the rows. service_role keeps every privilege.

revoke select on table public.report_jobs, public.reports from authenticated;

grant select (job_id, user_id, ticker, status, stage, progress, error_code, error_message, report_id,
              refunded, created_at, updated_at, started_at, finished_at)
    on table public.report_jobs to authenticated;

grant select (id, job_id, user_id, ticker, company_name, report, is_valid, created_at)
    on table public.reports to authenticated;
