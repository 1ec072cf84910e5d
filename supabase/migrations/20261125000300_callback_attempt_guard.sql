-- A delivery's state moves only forward: an attempt is recorded against a pending delivery whose
-- attempts are fewer than this one's number. Two dispatchers that both sent attempt N (one's claim
-- expired mid-POST) can then never turn a delivered callback back into pending, nor send it again.
-- The attempt itself is always logged.
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
     where id = p_delivery_id and status = 'pending' and attempts < p_attempt;
    return found;
end;
$$;
