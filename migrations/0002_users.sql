-- migrate: only-default-users-table
-- The default application user table, for deployments without one of their own. Skipped when
-- USERS_TABLE names an existing application's table (e.g. Django's users_user): the gateway
-- never creates or alters that table, it only updates its online flag.
create table if not exists users (
  id text primary key,
  username text,
  is_staff boolean not null default false,
  is_superuser boolean not null default false,
  is_online boolean not null default false,
  last_seen timestamptz
);
