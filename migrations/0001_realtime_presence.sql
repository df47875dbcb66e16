-- The gateway's own presence mirror: one row per user, written by the UserHub outbox.
-- `version` is the per-user presence version; a write only lands when it is newer than the row,
-- so a flip retried late never overwrites a later one.
create table if not exists realtime_presence (
  user_id text primary key,
  is_online boolean not null,
  connection_count integer not null,
  last_seen timestamptz,
  version bigint not null,
  updated_at timestamptz not null default now()
);
