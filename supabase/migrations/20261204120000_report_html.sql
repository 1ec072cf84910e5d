-- The report as a person reads it: the rendered page (render.py), stored beside the report JSON so
-- the product's front end can show it to its user through the Data API, under the same row-level
-- security as the report (the user reads the html of their own reports only).
--
--   reports.html                       the self-contained HTML page; null for reports stored before
--                                      this migration (the worker renders those on request)
--   complete_job(..., p_html)          as the eleven-argument complete_job, plus the page
--   get_report_html(p_report_id)       the page, for GET /reports/<id> (service role)
--
-- The eleven-argument complete_job stays as it is and does the work: the new one calls it and adds
-- the page to the report row it wrote, in the same transaction. So a later migration that redefines
-- complete_job (its ledger, its outbox) changes both, and callers that send no page keep working.
-- PostgREST picks the function whose arguments are the JSON body's keys: with p_html, this one.

alter table public.reports add column html text;

-- A user's query names its columns (20261125000400); html is one a product shows.
grant select (html) on table public.reports to authenticated;

create function public.complete_job(
    p_job_id uuid, p_owner text, p_report_id uuid, p_ticker text, p_company_name text, p_report jsonb,
    p_is_valid boolean, p_ai_cost_usd numeric, p_total_tokens integer, p_refund boolean, p_refund_reason text,
    p_html text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_result jsonb;
begin
    v_result := public.complete_job(
        p_job_id => p_job_id, p_owner => p_owner, p_report_id => p_report_id, p_ticker => p_ticker,
        p_company_name => p_company_name, p_report => p_report, p_is_valid => p_is_valid,
        p_ai_cost_usd => p_ai_cost_usd, p_total_tokens => p_total_tokens, p_refund => p_refund,
        p_refund_reason => p_refund_reason);
    -- Only the row this call (or its replay) wrote has this report id; the first page stays.
    if p_html is not null then
        update public.reports set html = p_html where id = p_report_id and job_id = p_job_id and html is null;
    end if;
    return v_result;
end;
$$;

create function public.get_report_html(p_report_id uuid)
returns text
language sql
stable
set search_path = ''
as $$ select r.html from public.reports r where r.id = p_report_id $$;

revoke all on function
    public.complete_job(uuid, text, uuid, text, text, jsonb, boolean, numeric, integer, boolean, text, text),
    public.get_report_html(uuid)
from public, anon, authenticated;

grant execute on function
    public.complete_job(uuid, text, uuid, text, text, jsonb, boolean, numeric, integer, boolean, text, text),
    public.get_report_html(uuid)
to service_role;
