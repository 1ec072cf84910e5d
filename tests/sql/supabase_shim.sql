-- Test-only: the few objects every Supabase project has and our migrations rely on, so that the
-- migrations can be applied to a plain PostgreSQL 15. Never applied in production.
--
-- * roles anon, authenticated, service_role (NOLOGIN; service_role bypasses RLS, as on Supabase), and
--   authenticator, the LOGIN role PostgREST connects as and switches from to the request's role;
-- * schema auth with auth.uid(), auth.role() and auth.jwt(), reading the JWT claims PostgREST puts
--   in the transaction setting request.jwt.claims (and the older request.jwt.claim.sub);
-- * Supabase's default privileges: everything created in public by postgres is granted to anon,
--   authenticated and service_role. The migrations must revoke what they do not want exposed, and
--   the tests only mean something if that default is reproduced here.

-- Roles are cluster-wide and test runs may race to create them: ignore "already exists".
do $$
declare
    r record;
begin
    for r in select * from (values ('anon', ''), ('authenticated', ''), ('service_role', ' bypassrls')) v(name, extra) loop
        begin
            execute format('create role %I nologin noinherit%s', r.name, r.extra);
        exception when duplicate_object or unique_violation then
            null;
        end;
    end loop;
    begin
        create role authenticator login noinherit;
    exception when duplicate_object or unique_violation then
        null;
    end;
    begin
        grant anon, authenticated, service_role to authenticator;
    exception when duplicate_object or unique_violation then
        null;
    end;
end
$$;

create schema if not exists auth;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
    select coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

create or replace function auth.uid() returns uuid
language sql stable
as $$
    select nullif(coalesce(current_setting('request.jwt.claim.sub', true), auth.jwt() ->> 'sub'), '')::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
    select nullif(coalesce(current_setting('request.jwt.claim.role', true), auth.jwt() ->> 'role'), '')::text
$$;

grant usage on schema auth to anon, authenticated, service_role;
grant execute on all functions in schema auth to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;

alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
