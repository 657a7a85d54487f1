-- What operators need to steer the queue (jobctl): a CANCELLED status for a
-- job that must not run, and a per-type pause that every runner obeys, on
-- every host (Launchpad's cron control, kept in the database).

-- CANCELLED = 5: `jobctl cancel` moves a WAITING or SUSPENDED job there; it is
-- finished (date_finished is set, prune may delete it) and `jobctl retry`
-- brings it back to WAITING.
ALTER TABLE job DROP CONSTRAINT job__status__valid;
ALTER TABLE job ADD CONSTRAINT job__status__valid CHECK (status BETWEEN 0 AND 5);

COMMENT ON COLUMN job.status IS 'WAITING=0, RUNNING=1, COMPLETED=2, FAILED=3, SUSPENDED=4 (Launchpad''s JobStatus), CANCELLED=5 (an operator stopped a WAITING or SUSPENDED job that must not run).';
COMMENT ON COLUMN job.date_finished IS 'When the job reached COMPLETED, FAILED or CANCELLED; null while it can still run. Pruning keys on it.';

CREATE TABLE job_type_pause (
    job_type  text        PRIMARY KEY,
    paused_at timestamptz NOT NULL DEFAULT now(),
    paused_by text        NOT NULL DEFAULT session_user,
    reason    text
);

COMMENT ON TABLE job_type_pause IS 'Job types whose runners must not run (jobctl pause / unpause). A runner of a paused type exits at once with a log line; a daemon stops at its next poll. One row per paused type; no row means running is allowed.';
COMMENT ON COLUMN job_type_pause.job_type IS 'The paused job type (job.job_type).';
COMMENT ON COLUMN job_type_pause.paused_at IS 'When the type was paused.';
COMMENT ON COLUMN job_type_pause.paused_by IS 'Who paused it (jobctl pause --by, else the operator''s login name).';
COMMENT ON COLUMN job_type_pause.reason IS 'Why it was paused, for the runners'' log lines and jobctl stats.';
