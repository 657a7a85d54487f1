-- Cheaper rows (issue 10): what the hot statements write into a job row,
-- cut to what earns its keep. Each change has its figure in
-- docs/performance.md, "Cheaper rows" (jobrunner-bench --only r).
--
-- The ALTER TYPE below rewrites the job table under an exclusive lock (a few
-- seconds per million rows): stop the runners first, as for every upgrade.
-- A job left RUNNING across it keeps token 0, which no claim ever draws, so
-- no runner can finish it and the next rescue requeues it once its lease
-- expires (its old runner quotes a uuid, which the new statements refuse).

-- Room on every page for the new versions of its rows. A claim and a
-- completion each write a new version of the row (never a HOT one: status
-- is in the partial indexes' predicates); with free space the version stays
-- on its page instead of extending the table, and a heartbeat (which only
-- moves lease_expires, indexed nowhere now) is a HOT update. Applies to the
-- table as the rewrite below packs it, and to every page written later.
ALTER TABLE job SET (fillfactor = 80);

-- The lease token: a bigint drawn from a sequence instead of a
-- gen_random_uuid() per claimed row. The fence (every finishing write and
-- heartbeat quotes the token) only needs two claims of one job to differ;
-- a sequence never hands out a value twice (not after a crash either, and a
-- dump restores it), and nobody guesses tokens: a role that could forge one
-- can write the row anyway. 8 bytes instead of 16, and cheaper to draw.
ALTER TABLE job ALTER COLUMN lease_token TYPE bigint
    USING CASE WHEN lease_token IS NOT NULL THEN 0 END;
CREATE SEQUENCE job_lease_token_seq AS bigint OWNED BY job.lease_token;

COMMENT ON SEQUENCE job_lease_token_seq IS 'Lease tokens: each claim of a job draws the next value (job_claim). Owned by job.lease_token; runner roles get USAGE with their grant on job (jobctl db permissions).';
COMMENT ON COLUMN job.lease_token IS 'A fresh token for every claim, drawn from job_lease_token_seq; every finishing write and heartbeat must quote it, so a runner whose lease was rescued cannot finish the job. 0 only for a job that was RUNNING across migration 0009.';

-- RUNNING jobs by type only: rescue (job_lock_expired) and jobctl's list of
-- running jobs sort the few RUNNING jobs of a type by lease_expires
-- themselves. With lease_expires out of every index a heartbeat no longer
-- touches an index at all.
DROP INDEX job__running__lease_expires__idx;
CREATE INDEX job__running__idx ON job (job_type) WHERE status = 1;

-- A success no longer appends a log line (job_finish, job_complete_many):
-- status, date_finished and attempt_count say it.
COMMENT ON COLUMN job.log IS 'A bounded tail of messages about what did not simply succeed: failures, retries, rescues, suspensions, give-backs and operators'' moves, newest last. A success adds no line (status, date_finished and attempt_count record it).';
