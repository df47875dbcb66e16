-- Notifications sent through POST /api/v1/users/{id}/notifications, kept for the application
-- to list or audit; delivery itself goes through the user's mailbox.
create table if not exists notifications (
  id text primary key,
  user_id text not null,
  title text not null,
  message text not null,
  data jsonb,
  created_at timestamptz not null,
  delivered_at timestamptz
);

create index if not exists notifications_user_id_created_at_idx
  on notifications (user_id, created_at);
