-- What the dashboard (jobctl web, docs/dashboard.md) needs (issue 13):
--
-- 1. runner_run.last_seen: when the run last showed it was alive. Set when
--    the run starts (runner_run_start) and refreshed by the run's lease
--    keeper at every heartbeat, at least every 10 seconds whether or not it
--    holds a lease (kRunnerSeenInterval, src/runtime/lease_keeper.cpp), so a
--    daemon that has been up for days does not look dead. A run is alive
--    while date_finished is null and last_seen is within 3 x that interval
--    (kRunnerAliveWithin, include/jobrunner/pg/admin.hpp). Runs recorded
--    before this patch keep a null last_seen: never alive.
--    Grants: none new. The runner roles hold INSERT and UPDATE on runner_run
--    (table-wide, so the new column too), every jobctl role SELECT.
--
-- 2. Indexes for the filters of the dashboard's jobs list, read in keyset
--    order (id descending, ?before=ID), that cost the hot path nothing: an
--    index over every job (by type, by status, by creation time) gets an
--    entry at the enqueue, the claim and the finish of every job (none of
--    those updates is HOT: the partial indexes name status), and one led by
--    status took over the claim's plan from job__ready__idx. So:
--    - by requester: (requester, id), partial: only jobs with a requester;
--    - a finished status (COMPLETED, FAILED, CANCELLED), with or without a
--      type: (job_type, status, id) over finished jobs only, one entry at
--      the finish and none at the enqueue or the claim (which its predicate
--      keeps away from);
--    - an unfinished status: the partial indexes the runners use;
--    - a type alone, a creation time: the primary key newest first (ids
--      grow with date_created), filtered.
--    tests/web_plan_test.cpp checks the plans. The runs alive are found
--    through a partial index over unfinished runs.

ALTER TABLE runner_run ADD COLUMN last_seen timestamptz;

COMMENT ON COLUMN runner_run.last_seen IS 'When the run last showed it was alive: set at its start, refreshed by its lease keeper at least every 10 seconds. Alive: date_finished is null and last_seen is within 30 seconds.';

CREATE INDEX job__requester__id__idx ON job (requester, id) WHERE requester IS NOT NULL;
CREATE INDEX job__finished__job_type__status__id__idx ON job (job_type, status, id)
    WHERE status IN (2, 3, 5);  -- COMPLETED, FAILED, CANCELLED
CREATE INDEX runner_run__alive__idx ON runner_run (last_seen) WHERE date_finished IS NULL;
