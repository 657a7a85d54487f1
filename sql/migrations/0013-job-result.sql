-- A job's result (issue 12): what its last recorded attempt gave back, as a
-- JSON object, e.g. the last line of a command job's stdout
-- (docs/command-jobs.md). Written by the runner with the attempt's end, in
-- the same statement as the status (job_finish; a transactional job's
-- COMPLETED in its own transaction), so a result exists exactly when its
-- attempt's end was recorded. NULL unless the job gave one.
--
-- Grants: none new. The runner roles hold UPDATE on job (table-wide, so the
-- new column too), the enqueuer roles INSERT (they never set it: it starts
-- NULL), every jobctl role SELECT.

ALTER TABLE job ADD COLUMN result jsonb
    CONSTRAINT job__result__object CHECK (result IS NULL OR jsonb_typeof(result) = 'object');

COMMENT ON COLUMN job.result IS 'What the job''s last recorded attempt gave back (RunnableJob::set_result; a command job''s last line of stdout that is a JSON object), written with that attempt''s end; NULL when it gave none (a lost or rescued attempt gives none). Shown by jobctl show.';
