-- Named statements of the operator's tool (jobctl) and of a runner's pause
-- check and retention: src/pg/admin.cpp runs each by its name. Same format
-- and placeholders as job.sql: {{job_columns}} expands to its job_columns
-- block, {{WAITING}} and the other status names to their codes.

-- name: time_resolve
-- An operator's time ($1, anything timestamptz accepts: ISO 8601, 'today',
-- ...) as UTC ISO 8601 text with microseconds, or NULL for +/-infinity.
SELECT CASE WHEN isfinite($1::timestamptz)
            THEN to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
       END AS t

-- name: time_shift
-- now() plus $1 milliseconds (negative: ago), as UTC ISO 8601 text.
SELECT to_char((now() + $1::bigint * interval '1 millisecond') AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t

-- name: job_match
-- The jobs an operator's filter picks; every criterion is optional (NULL
-- matches all). $1 ids, $2 type, $3 statuses, $4 requester, $5/$6 created
-- before/after, $7/$8 finished before/after, $9 ids below it (keyset paging).
-- The caller appends an ORDER BY
-- from a fixed list, then LIMIT $10 (listing) or FOR UPDATE (a move).
SELECT {{job_columns}} FROM job AS j
WHERE ($1::bigint[] IS NULL OR j.id = ANY($1::bigint[]))
  AND ($2::text IS NULL OR j.job_type = $2::text)
  AND ($3::smallint[] IS NULL OR j.status = ANY($3::smallint[]))
  -- One status: also as an equality, which the planner folds from the
  -- constant array, so that job__status__id__idx yields the rows in id order
  -- (PostgreSQL 15 orders no index scan by = ANY).
  AND ($3::smallint[] IS NULL OR cardinality($3::smallint[]) <> 1
       OR j.status = ($3::smallint[])[1])
  AND ($4::text IS NULL OR j.requester = $4::text)
  AND ($5::timestamptz IS NULL OR j.date_created < $5::timestamptz)
  AND ($6::timestamptz IS NULL OR j.date_created >= $6::timestamptz)
  AND ($7::timestamptz IS NULL OR j.date_finished < $7::timestamptz)
  AND ($8::timestamptz IS NULL OR j.date_finished >= $8::timestamptz)
  AND ($9::bigint IS NULL OR j.id < $9::bigint)

-- name: job_move
-- An operator's move of many jobs at once, after C++ has locked them (job_match
-- ... FOR UPDATE) and checked every transition. $1 is a JSON array of
-- {"id": N, "line": "..."} (the log line names each job's old state), $2 the
-- new status, $3 the reason (NULL keeps the old one), $4 the log limit.
-- Going to WAITING makes the job ready now and unfinished; COMPLETED, FAILED
-- and CANCELLED are finished; every move clears the lease, so the runner of a
-- job taken from it cannot finish it.
UPDATE job AS j
SET status = $2::smallint,
    reason = coalesce($3::text, j.reason),
    lease_expires = NULL, lease_owner = NULL, lease_token = NULL,
    scheduled_start = CASE WHEN $2::smallint = {{WAITING}} THEN NULL ELSE j.scheduled_start END,
    date_finished = CASE WHEN $2::smallint IN ({{COMPLETED}}, {{FAILED}}, {{CANCELLED}}) THEN now()
                         WHEN $2::smallint = {{WAITING}} THEN NULL
                         ELSE j.date_finished END,
    log = job_log_append(j.log, m.line, $4::integer)
FROM jsonb_to_recordset($1::jsonb) AS m(id bigint, line text)
WHERE j.id = m.id
RETURNING j.id

-- name: job_move_pending_conflict
-- A move of the jobs $1 to a pending status (WAITING, RUNNING, SUSPENDED)
-- under the one-pending rule (job__one_pending__idx): the first of them,
-- not pending now, whose type and pending key already have a pending job,
-- or an earlier job of $1 that the move makes pending too. NULL pending
-- keys (types without the rule) never conflict.
SELECT m.id, m.status, p.id AS pending, p.status IN (0, 1, 4) AS pending_now, t.display_name,
       t.target_table, m.pending_key
FROM job AS m
JOIN job_type AS t ON t.name = m.job_type
JOIN job AS p ON p.job_type = m.job_type AND p.pending_key = m.pending_key AND p.id <> m.id
WHERE m.id = ANY($1::bigint[]) AND m.pending_key IS NOT NULL AND m.status NOT IN (0, 1, 4)
  AND (p.status IN (0, 1, 4) OR (p.id = ANY($1::bigint[]) AND p.id < m.id))
ORDER BY m.id, p.id
LIMIT 1

-- name: job_notification_list
SELECT n.id, n.recipient, n.subject, n.body,
       (extract(epoch FROM n.date_created) * 1000000)::bigint AS date_created_us
FROM job_notification AS n
WHERE n.job = $1
ORDER BY n.id

-- name: error_report_find
-- Error reports, newest first: $1 of one job, $2 of one job type, $3 filed at
-- or after this time; each optional. $4 the limit.
SELECT e.id, e.job, (extract(epoch FROM e.date_created) * 1000000)::bigint AS date_created_us,
       e.error_type, e.message, e.variables
FROM error_report AS e
LEFT JOIN job AS j ON j.id = e.job
WHERE ($1::bigint IS NULL OR e.job = $1::bigint)
  AND ($2::text IS NULL OR j.job_type = $2::text)
  AND ($3::timestamptz IS NULL OR e.date_created >= $3::timestamptz)
ORDER BY e.id DESC
LIMIT $4

-- name: error_report_get
SELECT e.id, e.job, (extract(epoch FROM e.date_created) * 1000000)::bigint AS date_created_us,
       e.error_type, e.message, e.variables
FROM error_report AS e
WHERE e.id = $1

-- name: job_stats_depths
-- Exact counts of WAITING, RUNNING and SUSPENDED jobs per type ($1: one type,
-- or NULL for all). Each branch names its status as a constant, so it reads
-- only that status's partial index (job__ready__idx,
-- job__running__idx, job__suspended__idx), however many
-- finished jobs the table holds. Finished statuses are not counted here:
-- see job_stats_finished_since.
SELECT j.job_type, {{WAITING}} AS status, count(*) AS n
FROM job AS j
WHERE j.status = {{WAITING}} AND ($1::text IS NULL OR j.job_type = $1::text)
GROUP BY j.job_type
UNION ALL
SELECT j.job_type, {{RUNNING}} AS status, count(*) AS n
FROM job AS j
WHERE j.status = {{RUNNING}} AND ($1::text IS NULL OR j.job_type = $1::text)
GROUP BY j.job_type
UNION ALL
SELECT j.job_type, {{SUSPENDED}} AS status, count(*) AS n
FROM job AS j
WHERE j.status = {{SUSPENDED}} AND ($1::text IS NULL OR j.job_type = $1::text)
GROUP BY j.job_type

-- name: job_stats_finished_since
-- COMPLETED, FAILED and CANCELLED jobs per type ($1: one type, or NULL for
-- all) that finished at or after $2: a count over a recent window, read
-- through job__date_finished__idx, so its cost grows with the jobs finished
-- in the window, not with the table.
SELECT j.job_type, j.status, count(*) AS n
FROM job AS j
WHERE j.date_finished >= $2::timestamptz
  AND j.status IN ({{COMPLETED}}, {{FAILED}}, {{CANCELLED}})
  AND ($1::text IS NULL OR j.job_type = $1::text)
GROUP BY j.job_type, j.status

-- name: job_stats_rows_estimate
-- The planner's estimate of the rows in job (pg_class.reltuples, as of the
-- last VACUUM, ANALYZE or autovacuum); NULL before the first. Reads no row
-- of job.
SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS n
FROM pg_class AS c
WHERE c.oid = 'job'::regclass

-- name: job_stats_ready
-- Ready jobs per type and the age of the oldest (queue lag): how long it has
-- been ready, i.e. since it was created or its scheduled_start, the later.
-- Walks WAITING rows only (the partial index job__ready__idx).
SELECT j.job_type, count(*) AS ready,
       (extract(epoch FROM now() - min(greatest(j.date_created,
                                                coalesce(j.scheduled_start, j.date_created))))
        * 1000)::bigint AS oldest_ready_ms
FROM job AS j
WHERE j.status = {{WAITING}} AND ($1::text IS NULL OR j.job_type = $1::text)
  AND (j.lease_expires IS NULL OR j.lease_expires <= now())
  AND (j.scheduled_start IS NULL OR j.scheduled_start <= now())
GROUP BY j.job_type

-- name: job_stats_failed_recently
-- FAILED jobs per type that failed in the last $2 milliseconds.
SELECT j.job_type, count(*) AS n
FROM job AS j
WHERE j.status = {{FAILED}} AND j.date_finished >= now() - $2::bigint * interval '1 millisecond'
  AND ($1::text IS NULL OR j.job_type = $1::text)
GROUP BY j.job_type

-- name: job_running
-- RUNNING jobs, the lease closest to expiry first, with the lease's time left
-- (negative: expired, the next run of the type rescues the job).
SELECT {{job_columns}},
       (extract(epoch FROM j.lease_expires - now()) * 1000)::bigint AS lease_left_ms
FROM job AS j
WHERE j.status = {{RUNNING}} AND ($1::text IS NULL OR j.job_type = $1::text)
ORDER BY j.lease_expires, j.id
LIMIT $2

-- name: runner_run_list
-- Runs newest first ($1: one type, or NULL for all), at most $2; alive: not
-- finished and seen within the last $3 milliseconds (runner_run.last_seen).
SELECT r.id, r.job_type, r.hostname, r.pid,
       (extract(epoch FROM r.date_started) * 1000000)::bigint AS date_started_us,
       (extract(epoch FROM r.date_finished) * 1000000)::bigint AS date_finished_us,
       r.jobs_run, r.jobs_not_completed, r.exit_code,
       (extract(epoch FROM r.last_seen) * 1000000)::bigint AS last_seen_us,
       coalesce(r.date_finished IS NULL
                AND r.last_seen >= now() - $3::bigint * interval '1 millisecond', false) AS alive
FROM runner_run AS r
WHERE ($1::text IS NULL OR r.job_type = $1::text)
ORDER BY r.date_started DESC, r.id DESC
LIMIT $2

-- name: runner_run_last
-- The latest run of each type's runner ($1: one type, or NULL for all);
-- alive: not finished and seen within the last $2 milliseconds.
SELECT DISTINCT ON (r.job_type)
       r.id, r.job_type, r.hostname, r.pid,
       (extract(epoch FROM r.date_started) * 1000000)::bigint AS date_started_us,
       (extract(epoch FROM r.date_finished) * 1000000)::bigint AS date_finished_us,
       r.jobs_run, r.jobs_not_completed, r.exit_code,
       (extract(epoch FROM r.last_seen) * 1000000)::bigint AS last_seen_us,
       coalesce(r.date_finished IS NULL
                AND r.last_seen >= now() - $2::bigint * interval '1 millisecond', false) AS alive
FROM runner_run AS r
WHERE ($1::text IS NULL OR r.job_type = $1::text)
ORDER BY r.job_type, r.date_started DESC, r.id DESC

-- name: runner_run_alive
-- The runs alive ($1: of one type, or NULL for all): not finished, and seen
-- within the last $2 milliseconds; read through runner_run__alive__idx.
SELECT r.id, r.job_type, r.hostname, r.pid,
       (extract(epoch FROM r.date_started) * 1000000)::bigint AS date_started_us,
       (extract(epoch FROM r.date_finished) * 1000000)::bigint AS date_finished_us,
       r.jobs_run, r.jobs_not_completed, r.exit_code,
       (extract(epoch FROM r.last_seen) * 1000000)::bigint AS last_seen_us, true AS alive
FROM runner_run AS r
WHERE r.date_finished IS NULL
  AND r.last_seen >= now() - $2::bigint * interval '1 millisecond'
  AND ($1::text IS NULL OR r.job_type = $1::text)
ORDER BY r.job_type, r.date_started DESC, r.id DESC

-- name: job_throughput
-- Jobs finished per type, per minute and final status since $1 minutes ago
-- (COMPLETED, FAILED, CANCELLED): the overview's chart. A bounded window
-- read through job__date_finished__idx.
SELECT j.job_type,
       (extract(epoch FROM date_trunc('minute', j.date_finished)))::bigint AS minute_unix,
       j.status, count(*) AS n
FROM job AS j
WHERE j.date_finished >= date_trunc('minute', now()) - ($1::integer - 1) * interval '1 minute'
  AND j.status IN ({{COMPLETED}}, {{FAILED}}, {{CANCELLED}})
GROUP BY 1, 2, 3

-- name: job_type_pause_get
SELECT p.job_type, (extract(epoch FROM p.paused_at) * 1000000)::bigint AS paused_at_us,
       p.paused_by, p.reason
FROM job_type_pause AS p
WHERE p.job_type = $1

-- name: job_type_pause_list
SELECT p.job_type, (extract(epoch FROM p.paused_at) * 1000000)::bigint AS paused_at_us,
       p.paused_by, p.reason
FROM job_type_pause AS p
ORDER BY p.job_type

-- name: job_type_pause_insert
-- Pauses type $1; no row when it is paused already. $2 who (NULL: the
-- database user), $3 why.
INSERT INTO job_type_pause (job_type, paused_by, reason)
VALUES ($1, coalesce($2::text, session_user), $3)
ON CONFLICT (job_type) DO NOTHING
RETURNING job_type, (extract(epoch FROM paused_at) * 1000000)::bigint AS paused_at_us,
          paused_by, reason

-- name: job_type_pause_delete
DELETE FROM job_type_pause WHERE job_type = $1 RETURNING job_type

-- name: job_prune_batch
-- Deletes up to $4 finished jobs (statuses $2, only ever COMPLETED, FAILED or
-- CANCELLED) of type $3 (NULL: all) whose date_finished is before $1. Their
-- type rows, error reports, notices and frozzles go with them (ON DELETE
-- CASCADE). SKIP LOCKED leaves rows someone is moving (a retry) alone, and
-- the conditions are checked again on the locked rows, so a job retried
-- meanwhile is never deleted. The batch is a MATERIALIZED CTE: as a plain
-- IN (subquery) the planner may rescan the LIMIT once per row and delete far
-- more than a batch. Returns the status of each deleted job.
WITH batch AS MATERIALIZED (
    SELECT p.id FROM job AS p
    WHERE p.date_finished < $1::timestamptz
      AND p.status = ANY($2::smallint[])
      AND p.status IN ({{COMPLETED}}, {{FAILED}}, {{CANCELLED}})
      AND ($3::text IS NULL OR p.job_type = $3::text)
    ORDER BY p.date_finished, p.id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
)
DELETE FROM job AS j
USING batch
WHERE j.id = batch.id
  AND j.date_finished < $1::timestamptz
  AND j.status = ANY($2::smallint[])
  AND j.status IN ({{COMPLETED}}, {{FAILED}}, {{CANCELLED}})
RETURNING j.status

-- name: job_prune_count
-- What job_prune_batch would delete, per status (prune --dry-run).
SELECT j.status, count(*) AS n
FROM job AS j
WHERE j.date_finished < $1::timestamptz
  AND j.status = ANY($2::smallint[])
  AND j.status IN ({{COMPLETED}}, {{FAILED}}, {{CANCELLED}})
  AND ($3::text IS NULL OR j.job_type = $3::text)
GROUP BY j.status

-- name: runner_run_prune_batch
-- Deletes up to $4 runs of type $2's runner (NULL: every type) that ended
-- before $1, and, when $3, also those that never recorded an end and started
-- before $1 (dead, unless a runner started before $1 is still up: only an
-- operator can know, so runners never pass $3). A run still going has no end
-- and is kept otherwise. date_started < $1 holds for every match (a run ends
-- after it starts) and lets the planner use
-- runner_run__job_type__date_started__idx. SKIP LOCKED and the second check
-- leave a run that is recording its end meanwhile alone. Returns whether each
-- deleted run was unfinished.
WITH batch AS MATERIALIZED (
    SELECT r.id FROM runner_run AS r
    WHERE r.date_started < $1::timestamptz
      AND (r.date_finished < $1::timestamptz OR ($3::boolean AND r.date_finished IS NULL))
      AND ($2::text IS NULL OR r.job_type = $2::text)
    ORDER BY r.date_started, r.id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
)
DELETE FROM runner_run AS r
USING batch
WHERE r.id = batch.id
  AND (r.date_finished < $1::timestamptz OR ($3::boolean AND r.date_finished IS NULL))
RETURNING (r.date_finished IS NULL) AS unfinished

-- name: runner_run_prune_count
-- Runs of type $2's runner (NULL: every type) that started before $1: those
-- that ended before $1 (pruned), and those without an end (running, or died).
SELECT count(*) FILTER (WHERE r.date_finished < $1::timestamptz) AS finished,
       count(*) FILTER (WHERE r.date_finished IS NULL) AS unfinished
FROM runner_run AS r
WHERE r.date_started < $1::timestamptz
  AND ($2::text IS NULL OR r.job_type = $2::text)
