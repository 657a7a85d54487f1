-- The lock that keeps two cron runs of one job type from overlapping, as a
-- leased row instead of a session-level advisory lock. An advisory lock
-- belongs to a server connection, and a pooler in transaction mode
-- (PgBouncer) hands that connection to whichever client comes next: the
-- lock then holds for the wrong run, or stays held after its run died.
-- A row holds through any pooler: its run extends it every third of its
-- lease (the lease keeper), releases it at the end, and a run that died
-- leaves a row that the next run takes over once it has expired.
CREATE TABLE runner_lock (
    job_type    text        PRIMARY KEY,
    holder      text        NOT NULL,
    token       uuid        NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

COMMENT ON TABLE runner_lock IS 'The per-type lock of cron-mode runners (run-<type>-jobs without --daemon): one row while a run of the type holds it. Taken in one statement (INSERT ... ON CONFLICT takes over only an expired row), extended every third of the lease by the run''s lease keeper, deleted when the run ends. Works through connection poolers, unlike advisory locks.';
COMMENT ON COLUMN runner_lock.job_type IS 'The job type whose runs the row keeps apart (job.job_type).';
COMMENT ON COLUMN runner_lock.holder IS 'The run holding the lock, host:pid (as job.lease_owner).';
COMMENT ON COLUMN runner_lock.token IS 'Fresh for every acquisition; the holder quotes it to extend or release the lock, so a run whose lock was taken over cannot touch its successor''s.';
COMMENT ON COLUMN runner_lock.acquired_at IS 'When the holder took the lock.';
COMMENT ON COLUMN runner_lock.expires_at IS 'When the lock lapses unless extended; after it, the next run takes the lock over (its holder died or lost the database).';
