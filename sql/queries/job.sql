-- Named statements of the job store. Each block starts with "-- name: X" and
-- runs from src/pg/ by that name (src/pg/queries.hpp). Placeholders: the
-- name of another block ({{job_columns}}) expands to its text; a status
-- name ({{WAITING}}, {{RUNNING}}, ...) to its code (core/status.hpp), so
-- no status number is written here; {{type_table}}, {{target_column}} and
-- {{target_table}} to the quoted identifiers of one job type's tables
-- (JobTypeSpec), for the blocks run with type_query(). Any other
-- placeholder fails the load of the blocks. The migrations still write the
-- codes as numbers: an applied patch is never edited. $now is always the
-- database's clock: now().

-- name: job_columns
-- The columns every statement returns about a job (table alias j).
j.id, j.job_type, j.status, j.requester, j.reason, j.priority,
(extract(epoch FROM j.scheduled_start) * 1000000)::bigint AS scheduled_start_us,
(extract(epoch FROM j.lease_expires) * 1000000)::bigint AS lease_expires_us,
j.lease_owner, j.lease_token::text AS lease_token, j.attempt_count, j.max_retries,
coalesce(j.log, '') AS log,
(extract(epoch FROM j.date_created) * 1000000)::bigint AS date_created_us,
(extract(epoch FROM j.date_started) * 1000000)::bigint AS date_started_us,
(extract(epoch FROM j.date_finished) * 1000000)::bigint AS date_finished_us,
j.json_data, j.result

-- name: job_enqueue
-- One job of type $1 (sql/migrations/0011: every rule of an enqueue): target
-- $2 (NULL for a type without a table), metadata $3, start $4, priority $5,
-- max_retries $6 (NULL: the type's), requester $7, reason $8.
SELECT jobrunner_enqueue($1, $2::bigint, $3::jsonb, $4::timestamptz, $5::integer, $6::integer,
                         $7::text, $8::text) AS id

-- name: job_enqueue_many
-- The jobs of type $1 described by the JSON array $2, all or none; their ids
-- in the order of $2.
SELECT u.id FROM unnest(jobrunner_enqueue_many($1, $2::jsonb)) WITH ORDINALITY AS u(id, n)
ORDER BY u.n

-- name: type_row_load
-- The type rows of the jobs $1: target, type code and metadata.
SELECT t.job, t.{{target_column}} AS target_id, t.job_type AS type_code, t.json_data
FROM {{type_table}} AS t
WHERE t.job = ANY($1::bigint[])

-- name: job_claim
-- Claims up to $2 ready jobs of type $1 in one statement: each becomes
-- RUNNING with a fresh lease token (the next value of job_lease_token_seq),
-- owner $3 and a lease of $4 milliseconds. SKIP LOCKED lets any number of
-- runners claim at once without waiting for, or ever sharing, a row. The
-- UPDATE finds the locked rows by id = ANY(ARRAY(...)), an index scan of
-- the primary key: joined to the CTE, the planner hashes it against a scan
-- of the whole table once the table holds some 10,000 rows (docs/performance.md,
-- "Cheaper rows"). JobStore::claim runs it as it is for a type without a
-- table of its own (the job row is the whole job), and within
-- job_claim_with_type_row for a type with one.
WITH ready AS (
    SELECT id FROM job
    WHERE job_type = $1 AND status = {{WAITING}}
      AND (lease_expires IS NULL OR lease_expires <= now())
      AND (scheduled_start IS NULL OR scheduled_start <= now())
    ORDER BY priority, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE job AS j
SET status = {{RUNNING}}, date_started = now(), date_finished = NULL,
    attempt_count = j.attempt_count + 1,
    lease_owner = $3, lease_token = nextval('job_lease_token_seq'),
    lease_expires = now() + $4::bigint * interval '1 millisecond'
WHERE j.id = ANY(ARRAY(SELECT id FROM ready))
RETURNING {{job_columns}}

-- name: job_claim_with_type_row
-- job_claim, joined to the claimed jobs' type rows: one round trip. The
-- join goes through the type table's index on job (t.job = ANY(ARRAY(...))),
-- not a hash of the whole table (docs/performance.md, "Cheaper rows"). A job
-- whose type row is missing comes back with a NULL target_id.
WITH claimed AS (
{{job_claim}}
)
SELECT claimed.*, t.{{target_column}} AS target_id, t.job_type AS type_code,
       t.json_data AS type_json_data
FROM claimed LEFT JOIN {{type_table}} AS t ON t.job = claimed.id
  AND t.job = ANY(ARRAY(SELECT id FROM claimed))

-- name: job_ready
-- The ready jobs of type $1, in claim order, without locking them.
SELECT {{job_columns}} FROM job AS j
WHERE j.job_type = $1 AND j.status = {{WAITING}}
  AND (j.lease_expires IS NULL OR j.lease_expires <= now())
  AND (j.scheduled_start IS NULL OR j.scheduled_start <= now())
ORDER BY j.priority, j.id
LIMIT $2

-- name: job_finish
-- The one finishing write: fenced by the RUNNING status and the lease token,
-- so a runner whose lease was rescued changes nothing (no row returned).
-- $3 is the new status; $4 the retry delay in ms (WAITING) or NULL.
-- date_finished is set for COMPLETED and FAILED only. $5 is the log line,
-- NULL for none (a success writes none unless its attempt gave log text).
-- $7 is the attempt's result (job.result), NULL for none: each recorded end
-- writes its own attempt's.
UPDATE job AS j
SET status = $3::smallint,
    date_finished = CASE WHEN $3::smallint IN ({{COMPLETED}}, {{FAILED}}) THEN now() END,
    scheduled_start = CASE WHEN $4::bigint IS NULL THEN j.scheduled_start
                           ELSE now() + $4::bigint * interval '1 millisecond' END,
    lease_expires = NULL, lease_owner = NULL, lease_token = NULL,
    log = CASE WHEN $5::text IS NULL THEN j.log ELSE job_log_append(j.log, $5::text, $6::integer) END,
    result = $7::jsonb
WHERE j.id = $1 AND j.status = {{RUNNING}} AND j.lease_token = $2::bigint
RETURNING j.id

-- name: job_heartbeat
-- Extends the leases of the jobs (ids $1, tokens $2) this runner still holds,
-- all in one statement; returns the ids whose lease was extended. Rows are
-- locked in id order, as job_complete_many locks them, so the two cannot
-- deadlock. id = ANY($1) reads them through the primary key (not every
-- RUNNING job); only lease_expires changes, so with the free space of
-- fillfactor 80 the update is HOT (no index touched).
WITH held AS (
    SELECT j.id FROM job AS j
    JOIN unnest($1::bigint[], $2::bigint[]) AS h(id, token)
      ON j.id = h.id AND j.lease_token = h.token
    WHERE j.status = {{RUNNING}} AND j.id = ANY($1::bigint[])
    ORDER BY j.id
    FOR NO KEY UPDATE OF j
)
UPDATE job AS j
SET lease_expires = now() + $3::bigint * interval '1 millisecond'
FROM held
WHERE j.id = held.id
RETURNING j.id

-- name: job_complete_many
-- Records COMPLETED for many jobs at once (types with batch completions):
-- ids $1, lease tokens $2. Fenced like job_finish (a row whose token changed
-- while we waited for its lock drops out); returns the ids it completed, so
-- a missing id is a lease that was lost. Locks in id order. No log line: a
-- success writes none.
WITH done AS (
    SELECT j.id FROM job AS j
    JOIN unnest($1::bigint[], $2::bigint[]) AS d(id, token)
      ON j.id = d.id AND j.lease_token = d.token
    WHERE j.status = {{RUNNING}} AND j.id = ANY($1::bigint[])
    ORDER BY j.id
    FOR NO KEY UPDATE OF j
)
UPDATE job AS j
SET status = {{COMPLETED}}, date_finished = now(),
    lease_expires = NULL, lease_owner = NULL, lease_token = NULL
FROM done
WHERE j.id = done.id
RETURNING j.id

-- name: job_next_due
-- Milliseconds until the next scheduled WAITING job of type $1 comes due;
-- NULL when none is scheduled. A daemon sleeps no longer than this.
SELECT ceil(extract(epoch FROM min(j.scheduled_start) - now()) * 1000)::bigint AS due_in_ms
FROM job AS j
WHERE j.job_type = $1 AND j.status = {{WAITING}} AND j.scheduled_start > now()

-- name: job_give_back
-- A runner stopping returns jobs it holds but did not run or could not
-- finish in time (ids $1, lease tokens $2, log lines $3): WAITING and ready
-- now, their attempts not counted. Fenced like job_finish; returns the ids
-- given back. Locks in id order, as job_heartbeat does.
WITH back AS (
    SELECT j.id, b.line FROM job AS j
    JOIN unnest($1::bigint[], $2::bigint[], $3::text[]) AS b(id, token, line)
      ON j.id = b.id AND j.lease_token = b.token
    WHERE j.status = {{RUNNING}} AND j.id = ANY($1::bigint[])
    ORDER BY j.id
    FOR NO KEY UPDATE OF j
)
UPDATE job AS j
SET status = {{WAITING}}, attempt_count = greatest(j.attempt_count - 1, 0),
    lease_expires = NULL, lease_owner = NULL, lease_token = NULL,
    log = job_log_append(j.log, back.line, $4::integer)
FROM back
WHERE j.id = back.id
RETURNING j.id

-- name: job_append_log
UPDATE job AS j SET log = job_log_append(j.log, $2::text, $3::integer) WHERE j.id = $1

-- name: job_lock_expired
-- RUNNING jobs of type $1 whose lease ran out: their runner died. Locked so
-- that concurrent rescuers share the work instead of doubling it.
SELECT {{job_columns}} FROM job AS j
WHERE j.job_type = $1 AND j.status = {{RUNNING}} AND j.lease_expires < now()
ORDER BY j.lease_expires
LIMIT $2
FOR UPDATE SKIP LOCKED

-- name: job_get
SELECT {{job_columns}} FROM job AS j WHERE j.id = $1

-- name: error_report_insert
INSERT INTO error_report (job, error_type, message, variables)
VALUES ($1, $2, $3, $4::jsonb)
RETURNING id

-- name: job_notification_insert
INSERT INTO job_notification (job, recipient, subject, body)
VALUES ($1, $2, $3, $4)
RETURNING id

-- name: runner_lock_try
-- Takes the lock of type $1 for holder $2 with a lease of $3 milliseconds,
-- when no run holds it or its holder's lease expired (the row is then taken
-- over). token is NULL when another run holds it; previous_* name the
-- holder the statement found (NULL when there was none), for the log line.
WITH previous AS (
    SELECT holder, expires_at, expires_at <= now() AS expired
    FROM runner_lock WHERE job_type = $1
), taken AS (
    INSERT INTO runner_lock AS l (job_type, holder, token, acquired_at, expires_at)
    VALUES ($1, $2, gen_random_uuid(), now(), now() + $3::bigint * interval '1 millisecond')
    ON CONFLICT (job_type) DO UPDATE
    SET holder = EXCLUDED.holder, token = EXCLUDED.token,
        acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
    WHERE l.expires_at <= now()
    RETURNING l.token
)
SELECT (SELECT token::text FROM taken) AS token,
       p.holder AS previous_holder,
       (extract(epoch FROM p.expires_at) * 1000000)::bigint AS previous_expires_us,
       coalesce(p.expired, false) AS previous_expired
FROM (SELECT 1) AS one LEFT JOIN previous AS p ON true

-- name: runner_lock_extend
-- Extends the lock of type $1 held with token $2 to $3 milliseconds from
-- now; no row when the lock was taken over (or released).
UPDATE runner_lock
SET expires_at = now() + $3::bigint * interval '1 millisecond'
WHERE job_type = $1 AND token = $2::uuid
RETURNING job_type

-- name: runner_lock_release
DELETE FROM runner_lock WHERE job_type = $1 AND token = $2::uuid

-- name: runner_run_start
INSERT INTO runner_run (job_type, hostname, pid, last_seen) VALUES ($1, $2, $3, now()) RETURNING id

-- name: runner_run_seen
-- The run $1 is alive (its lease keeper's heartbeat): runner_run.last_seen.
UPDATE runner_run SET last_seen = now() WHERE id = $1 AND date_finished IS NULL

-- name: runner_run_finish
UPDATE runner_run
SET date_finished = now(), last_seen = now(), jobs_run = $2, jobs_not_completed = $3, exit_code = $4
WHERE id = $1
