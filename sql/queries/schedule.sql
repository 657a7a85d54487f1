-- Named statements of recurring schedules (tables job_schedule and
-- job_schedule_occurrence, patch 0012): src/pg/schedules.cpp runs each by
-- its name. Same format as job.sql. Instants travel as whole seconds since
-- the epoch (the cron core's unit); "now" is $1 of schedule_clock, then a
-- parameter of the statements that need it, never now() itself, so that a
-- test clock moves every one of them.

-- name: schedule_clock
-- The tick's "now": the test clock $1 when given, else the database's
-- clock (the transaction's start), in whole seconds.
SELECT floor(extract(epoch FROM coalesce($1::timestamptz, now())))::bigint AS now_s

-- name: schedule_columns
-- The columns every statement returns about a schedule (alias s), with the
-- record of its last occurrence (alias o, LEFT JOIN).
s.id, s.name, s.job_type, s.target, s.metadata, s.priority, s.max_retries, s.cron, s.time_zone,
s.misfire, s.misfire_limit, extract(epoch FROM s.misfire_grace)::bigint AS misfire_grace_s,
s.paused, extract(epoch FROM s.next_due)::bigint AS next_due_s,
extract(epoch FROM s.last_occurrence)::bigint AS last_occurrence_s,
o.job AS last_job, o.skipped AS last_skipped,
(extract(epoch FROM s.date_created) * 1000000)::bigint AS date_created_us,
(extract(epoch FROM s.date_updated) * 1000000)::bigint AS date_updated_us

-- name: schedule_insert
-- A new schedule; next_due $13 (epoch seconds) computed by the caller.
-- A taken name fails with 23505 (job_schedule__name__key).
WITH s AS (
    INSERT INTO job_schedule (name, job_type, target, metadata, priority, max_retries, cron,
                              time_zone, misfire, misfire_limit, misfire_grace, paused, next_due)
    VALUES ($1, $2, $3::bigint, $4::jsonb, $5::integer, $6::integer, $7, $8, $9, $10::integer,
            make_interval(secs => $11::bigint), $12::boolean, to_timestamp($13::bigint))
    RETURNING *
)
SELECT {{schedule_columns}}
FROM s LEFT JOIN job_schedule_occurrence AS o ON false

-- name: schedule_list
-- Every schedule in name order; only the one named $1, or only those of
-- type $2, when given.
SELECT {{schedule_columns}}
FROM job_schedule AS s
LEFT JOIN job_schedule_occurrence AS o
       ON o.schedule = s.id AND o.occurs_at = s.last_occurrence
WHERE ($1::text IS NULL OR s.name = $1::text)
  AND ($2::text IS NULL OR s.job_type = $2::text)
ORDER BY s.name

-- name: schedule_set_paused
-- Pauses ($2 true) or resumes ($2 false) schedule $1; resuming sets
-- next_due to $3 (epoch seconds; NULL keeps it). Returns nothing when it
-- is in that state already, or does not exist.
WITH s AS (
    UPDATE job_schedule AS s
    SET paused = $2::boolean,
        next_due = coalesce(to_timestamp($3::bigint), s.next_due),
        date_updated = now()
    WHERE s.name = $1 AND s.paused <> $2::boolean
    RETURNING s.*
)
SELECT {{schedule_columns}}
FROM s LEFT JOIN job_schedule_occurrence AS o
            ON o.schedule = s.id AND o.occurs_at = s.last_occurrence

-- name: schedule_delete
-- Deletes schedule $1; its occurrence records go with it (ON DELETE
-- CASCADE), its jobs stay. Returns the id and how many records it had.
WITH records AS (
    SELECT count(*) AS n FROM job_schedule_occurrence AS o
    WHERE o.schedule = (SELECT id FROM job_schedule WHERE name = $1)
)
DELETE FROM job_schedule AS s
WHERE s.name = $1
RETURNING s.id, (SELECT n FROM records) AS records

-- name: schedule_occurrence_list
-- The latest $2 occurrence records of schedule $1, newest first.
SELECT extract(epoch FROM o.occurs_at)::bigint AS occurs_at_s, o.job, o.skipped,
       (extract(epoch FROM o.date_recorded) * 1000000)::bigint AS date_recorded_us
FROM job_schedule_occurrence AS o
WHERE o.schedule = $1
ORDER BY o.occurs_at DESC
LIMIT $2

-- name: schedule_due_lock
-- One due schedule: unpaused, next_due at or before $1 (epoch seconds), of
-- the types $2 (NULL: all), not among $3 (handled by this tick already);
-- the earliest due first. Locked FOR UPDATE SKIP LOCKED: a schedule another
-- tick holds is left to it, never waited for. The empty join gives
-- {{schedule_columns}} its o.* columns (NULL: the tick does not need the
-- last occurrence's job), so one column list and one row reader serve all.
SELECT {{schedule_columns}}
FROM job_schedule AS s
LEFT JOIN job_schedule_occurrence AS o ON false
WHERE NOT s.paused
  AND s.next_due <= to_timestamp($1::bigint)
  AND ($2::text[] IS NULL OR s.job_type = ANY ($2::text[]))
  AND NOT (s.id = ANY (coalesce($3::bigint[], '{}')))
ORDER BY s.next_due, s.id
LIMIT 1
FOR UPDATE OF s SKIP LOCKED

-- name: schedule_next_due
-- Seconds from $1 (epoch seconds) to the earliest next_due of the unpaused
-- schedules of the types $2 (NULL: all); NULL when there is none. At or
-- below 0: one is due now. (job_schedule__due__idx)
SELECT extract(epoch FROM min(s.next_due))::bigint - $1::bigint AS due_in_s
FROM job_schedule AS s
WHERE NOT s.paused
  AND ($2::text[] IS NULL OR s.job_type = ANY ($2::text[]))

-- name: schedule_occurrence_insert
-- The record of occurrence $2 (epoch seconds) of schedule $1, skipped for
-- reason $3 (NULL: its job is to follow). Returns nothing when it is
-- recorded already: someone else handled it.
INSERT INTO job_schedule_occurrence (schedule, occurs_at, skipped)
VALUES ($1, to_timestamp($2::bigint), $3)
ON CONFLICT (schedule, occurs_at) DO NOTHING
RETURNING 1 AS recorded

-- name: schedule_occurrence_set
-- The outcome of occurrence $2 of schedule $1: its job $3, or why it was
-- skipped, $4.
UPDATE job_schedule_occurrence
SET job = $3::bigint, skipped = $4
WHERE schedule = $1 AND occurs_at = to_timestamp($2::bigint)

-- name: schedule_advance
-- After a tick of schedule $1: next_due $2 and, when $3 is given, the last
-- recorded occurrence (epoch seconds; never moved backwards).
UPDATE job_schedule
SET next_due = to_timestamp($2::bigint),
    last_occurrence = CASE WHEN $3::bigint IS NULL THEN last_occurrence
                           ELSE greatest(last_occurrence, to_timestamp($3::bigint)) END,
    date_updated = now()
WHERE id = $1

-- name: schedule_occurrence_prune_batch
-- Deletes up to $3 skipped occurrence records (no job) recorded before $1,
-- of the schedules of type $2 (NULL: every type). Records of enqueued jobs
-- go with their jobs (ON DELETE CASCADE).
DELETE FROM job_schedule_occurrence AS o
WHERE (o.schedule, o.occurs_at) IN (
    SELECT x.schedule, x.occurs_at
    FROM job_schedule_occurrence AS x
    JOIN job_schedule AS s ON s.id = x.schedule
    WHERE x.job IS NULL AND x.date_recorded < $1::timestamptz
      AND ($2::text IS NULL OR s.job_type = $2::text)
    LIMIT $3
    FOR UPDATE OF x SKIP LOCKED)
RETURNING 1 AS deleted

-- name: schedule_occurrence_prune_count
-- What schedule_occurrence_prune_batch would delete (prune --dry-run).
SELECT count(*) AS n
FROM job_schedule_occurrence AS x
JOIN job_schedule AS s ON s.id = x.schedule
WHERE x.job IS NULL AND x.date_recorded < $1::timestamptz
  AND ($2::text IS NULL OR s.job_type = $2::text)

-- name: schedule_occurrence_may_prune
-- Whether the connected role may delete occurrence records (a job type
-- package's runner role may lack the grant: it then leaves them to
-- jobctl prune).
SELECT has_table_privilege('job_schedule_occurrence', 'DELETE') AS may
