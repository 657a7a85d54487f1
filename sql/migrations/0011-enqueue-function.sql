-- One enqueue, in SQL (issue 11): jobrunner_enqueue() and
-- jobrunner_enqueue_many() apply every rule of an enqueue, so an application
-- in any language enqueues with one call in its own transaction, and
-- JobStore::enqueue/enqueue_many call them too (one implementation).
--
-- The one-pending rule holds without locks: every job of a type registered
-- with one_pending carries a pending key (its target, or 0 for a type
-- without a target: a singleton), and a unique partial index admits one
-- pending (WAITING, RUNNING, SUSPENDED) job per type and key. Costs, from
-- jobrunner-bench (docs/performance.md, "One enqueue, in SQL"): a claim
-- (WAITING to RUNNING) adds one entry to the index, as it already does to
-- the other partial indexes; a completion adds none (its new row version is
-- outside the predicate); a heartbeat changes neither status nor key and
-- stays a HOT update; a type without the rule (NoopJob) has a NULL key and
-- pays nothing. The rule also holds for jobctl retry and resume now: a job
-- that goes back to WAITING while another job of its type and target is
-- pending violates the index (jobctl reports it and changes nothing).

ALTER TABLE job ADD COLUMN pending_key bigint;
COMMENT ON COLUMN job.pending_key IS 'The one-pending rule''s key, set at enqueue and kept for the job''s life: the target id for a type registered with one_pending, 0 for such a type without a target (one pending job of the type), NULL for a type without the rule (or a job that was a second pending job of its target when migration 0011 was applied). Unique among pending jobs of a type (job__one_pending__idx).';

-- Sets the pending keys of every job of one type from its registry row:
-- the target (from the type's table) or 0 when the type has one_pending,
-- NULL when it has not. Of several pending jobs with one key (possible
-- before migration 0011: jobctl retry and resume did not check the rule),
-- only the oldest keeps its key; each other is named in a NOTICE. Run by
-- migration 0011 and whenever a type's one_pending changes (trigger below).
CREATE FUNCTION jobrunner_reset_pending_keys(job_type text) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    p_type CONSTANT text := jobrunner_reset_pending_keys.job_type;
    t      record;
    keys   text;
    r      record;
BEGIN
    SELECT * INTO t FROM job_type AS jt WHERE jt.name = p_type;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no job type %', quote_nullable(p_type)
            USING ERRCODE = 'undefined_object';
    END IF;
    keys := CASE
        WHEN NOT t.one_pending THEN
            'SELECT j.id, j.status, NULL::bigint AS raw_key FROM job AS j WHERE j.job_type = $1'
        WHEN t.type_table IS NULL THEN
            'SELECT j.id, j.status, 0::bigint AS raw_key FROM job AS j WHERE j.job_type = $1'
        ELSE format('SELECT j.id, j.status, r.%I::bigint AS raw_key FROM job AS j'
                    ' LEFT JOIN %I AS r ON r.job = j.id AND r.job_type = $2'
                    ' WHERE j.job_type = $1', t.target_column, t.type_table)
    END;
    FOR r IN EXECUTE format(
        'WITH k AS (SELECT id, raw_key,'
        '                  status IN (0, 1, 4) AND raw_key IS NOT NULL'
        '                  AND row_number() OVER (PARTITION BY raw_key, status IN (0, 1, 4)'
        '                                         ORDER BY id) > 1 AS dropped,'
        '                  first_value(id) OVER (PARTITION BY raw_key, status IN (0, 1, 4)'
        '                                        ORDER BY id) AS kept'
        '           FROM (%s) AS s)'
        ' UPDATE job AS j SET pending_key = CASE WHEN k.dropped THEN NULL ELSE k.raw_key END'
        ' FROM k WHERE j.id = k.id'
        '   AND (k.dropped OR j.pending_key IS DISTINCT FROM k.raw_key)'
        ' RETURNING j.id, k.raw_key, k.kept, k.dropped', keys)
        USING p_type, t.type_code
    LOOP
        IF r.dropped THEN
            RAISE NOTICE 'job % (type %, key %) is pending beside the older job %: it keeps no pending key, so the one-pending rule does not cover it (cancel one of them if they are duplicates)',
                r.id, p_type, r.raw_key, r.kept;
        END IF;
    END LOOP;
END;
$$;
REVOKE EXECUTE ON FUNCTION jobrunner_reset_pending_keys(text) FROM PUBLIC;
COMMENT ON FUNCTION jobrunner_reset_pending_keys(text) IS 'Sets job.pending_key of every job of the type from its registry row (target, 0 for a type without a target, or NULL without the one-pending rule); of several pending jobs with one key only the oldest keeps it (a NOTICE names the others). Run by migration 0011 and when a type''s one_pending changes.';

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT name FROM job_type WHERE one_pending ORDER BY name LOOP
        PERFORM jobrunner_reset_pending_keys(t.name);
    END LOOP;
END;
$$;

CREATE UNIQUE INDEX job__one_pending__idx ON job (job_type, pending_key)
    WHERE pending_key IS NOT NULL AND status IN (0, 1, 4);
COMMENT ON INDEX job__one_pending__idx IS 'The one-pending rule: at most one pending (WAITING, RUNNING, SUSPENDED) job per type and pending key. jobrunner_enqueue_many() skips a conflicting row (ON CONFLICT DO NOTHING) and raises 23505 naming the pending job; an UPDATE that makes a second job pending (jobctl retry, resume) fails on it.';

-- A type whose one_pending changes (jobrunner_register_type) gets its jobs'
-- keys set again, so the rule covers exactly the jobs of types that have it.
CREATE FUNCTION job_type_one_pending_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM jobrunner_reset_pending_keys(NEW.name);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION job_type_one_pending_changed() IS 'Sets the pending keys of a type''s jobs again when its one_pending changes (jobrunner_reset_pending_keys).';
CREATE TRIGGER job_type__one_pending__changed
    AFTER UPDATE OF one_pending ON job_type
    FOR EACH ROW
    WHEN (OLD.one_pending IS DISTINCT FROM NEW.one_pending)
    EXECUTE FUNCTION job_type_one_pending_changed();

-- How an error of jobrunner_enqueue_many() names element n of total: "job
-- 3 of 10: ", or nothing for a call with a single job.
CREATE FUNCTION jobrunner_enqueue_element(n bigint, total bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN total > 1 THEN format('job %s of %s: ', n, total) ELSE '' END
$$;
COMMENT ON FUNCTION jobrunner_enqueue_element(bigint, bigint) IS 'The prefix that names element n of total in the errors of jobrunner_enqueue_many(): "job 3 of 10: ", empty for a single job.';

-- Enqueues the jobs of one type described by `jobs`, a JSON array of
-- objects with the keys (each optional; null means the default)
--   target           the id of what the job is about (<target_table>.id);
--                    required for a type with a table, refused without one
--   metadata         a JSON object (default {}): the type table's json_data,
--                    or job.json_data for a type without a table
--   scheduled_start  a timestamptz as text: not ready before then
--   priority         -32768..32767, lower runs first (default 0)
--   max_retries      0 or more (default: the type's, from job_type)
--   requester, reason  text
-- and returns the new job ids in the order of `jobs`. All or nothing: any
-- refusal raises an error and the statement writes nothing. The message
-- names the element ("job 3 of 10: there is no foo with id 99"; no prefix
-- for a single job). SQLSTATEs:
--   42704 (undefined_object)        an unknown job type (the message lists the registered ones)
--   22023 (invalid_parameter_value) malformed input: not an array, an element not an object,
--                                   an unknown key, a value of the wrong type or out of range,
--                                   a negative max_retries, metadata not an object, a target
--                                   for a type without one
--   22007, 22008, ... (class 22)    a scheduled_start PostgreSQL cannot read (its own code)
--   23502 (not_null_violation)      no target for a type with a table
--   23503 (foreign_key_violation)   an unknown target
--   23505 (unique_violation)        a pending job of the type for the target already exists
--                                   (the message names it: "(job 17)"), or the same target
--                                   twice in the call ("(job 2 of 10)")
-- Runs with the caller's rights (docs/enqueue-from-sql.md): the caller needs
-- EXECUTE, INSERT on job and the type's table, SELECT on job, job_type and
-- the target table, and USAGE on job's id sequence (jobctl db permissions
-- grants them to the enqueuer roles of security.cfg). No lock per target:
-- a concurrent enqueue of the same target waits for the other transaction
-- (on the unique index) and then either inserts (it rolled back) or raises
-- 23505 (it committed); rows are inserted in key order, so two bulk calls
-- cannot deadlock each other. No EXCEPTION block around the writes, so a
-- call opens no subtransaction that takes a transaction id.
CREATE FUNCTION jobrunner_enqueue_many(job_type text, jobs jsonb) RETURNS bigint[]
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    p_type  CONSTANT text  := jobrunner_enqueue_many.job_type;
    p_jobs  CONSTANT jsonb := jobrunner_enqueue_many.jobs;
    c_keys  CONSTANT text[] := ARRAY['target', 'metadata', 'scheduled_start', 'priority',
                                     'max_retries', 'requester', 'reason'];
    t       record;
    total   integer;
    bad     record;
    starts  integer;
    e       record;
    ids     bigint[];
    written bigint;
    pending bigint;
    what    text;
BEGIN
    SELECT jt.name, jt.display_name, jt.type_table, jt.target_column, jt.target_table,
           jt.type_code, jt.max_retries, jt.one_pending
    INTO t FROM job_type AS jt WHERE jt.name = p_type;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no job type % (registered: %)', quote_nullable(p_type),
            coalesce((SELECT string_agg(jt.name, ', ' ORDER BY jt.name) FROM job_type AS jt), 'none')
            USING ERRCODE = 'undefined_object',
                  HINT = 'A type''s migration registers it (jobrunner_register_type).';
    END IF;
    IF p_jobs IS NULL OR jsonb_typeof(p_jobs) <> 'array' THEN
        RAISE EXCEPTION 'jobs must be a JSON array of objects, not %', coalesce(jsonb_typeof(p_jobs), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    total := jsonb_array_length(p_jobs);
    IF total = 0 THEN
        RETURN ARRAY[]::bigint[];
    END IF;

    -- The first element that is not an object or has a key we do not know.
    SELECT e.n,
           CASE WHEN jsonb_typeof(e.v) <> 'object' THEN
                '22023 expected a JSON object with the keys ' || array_to_string(c_keys, ', ')
                || ', not ' || jsonb_typeof(e.v)
           ELSE '22023 unknown key ' || (SELECT string_agg(format('"%s"', k), ', ')
                                         FROM jsonb_object_keys(e.v - c_keys) AS k)
                || ' (use ' || array_to_string(c_keys, ', ') || ')'
           END AS problem
    INTO bad
    FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(v, n)
    WHERE jsonb_typeof(e.v) <> 'object' OR e.v - c_keys <> '{}'::jsonb
    ORDER BY e.n LIMIT 1;
    IF bad.problem IS NULL THEN
        -- The first element with a value of the wrong type or out of range,
        -- each key read once (jsonb_to_recordset: JSON null and a missing key
        -- are both NULL); and how many give a start time.
        SELECT min(p.n) FILTER (WHERE p.problem IS NOT NULL) AS n,
               (array_agg(p.problem ORDER BY p.n) FILTER (WHERE p.problem IS NOT NULL))[1] AS problem,
               count(*) FILTER (WHERE p.has_start) AS starts
        INTO bad
        FROM (
            SELECT r.n, jsonb_typeof(r.scheduled_start) = 'string' AS has_start,
                CASE
                WHEN coalesce(jsonb_typeof(r.target), 'null') NOT IN ('null', 'number')
                     OR (jsonb_typeof(r.target) = 'number'
                         AND (strpos((r.target #>> '{}'), '.') > 0
                              OR (length((r.target #>> '{}')) >= 19
                                  AND (r.target)::numeric
                                      NOT BETWEEN -9223372036854775808 AND 9223372036854775807))) THEN
                    '22023 "target" must be an integer, not ' || (r.target)::text
                WHEN t.type_table IS NOT NULL AND coalesce(jsonb_typeof(r.target), 'null') = 'null' THEN
                    format('23502 no target: which %s is the %s about?', t.target_table, t.display_name)
                WHEN t.type_table IS NULL AND coalesce(jsonb_typeof(r.target), 'null') <> 'null' THEN
                    format('22023 job type %s has no target (no table of its own); leave "target" out',
                           t.name)
                WHEN coalesce(jsonb_typeof(r.metadata), 'null') NOT IN ('null', 'object') THEN
                    format('22023 the metadata of a %s must be a JSON object, not %s', t.display_name,
                           jsonb_typeof(r.metadata))
                WHEN coalesce(jsonb_typeof(r.scheduled_start), 'null') NOT IN ('null', 'string') THEN
                    '22023 "scheduled_start" must be a time as a string, not '
                    || jsonb_typeof(r.scheduled_start)
                WHEN coalesce(jsonb_typeof(r.priority), 'null') NOT IN ('null', 'number')
                     OR (jsonb_typeof(r.priority) = 'number'
                         AND (strpos((r.priority #>> '{}'), '.') > 0
                              OR (r.priority)::numeric NOT BETWEEN -32768 AND 32767)) THEN
                    '22023 "priority" must be an integer between -32768 and 32767, not '
                    || (r.priority)::text
                WHEN coalesce(jsonb_typeof(r.max_retries), 'null') NOT IN ('null', 'number')
                     OR (jsonb_typeof(r.max_retries) = 'number'
                         AND (strpos((r.max_retries #>> '{}'), '.') > 0
                              OR (r.max_retries)::numeric > 2147483647)) THEN
                    '22023 "max_retries" must be an integer, not ' || (r.max_retries)::text
                WHEN (r.max_retries)::numeric < 0 THEN
                    '22023 max_retries must be 0 or more, not ' || ((r.max_retries #>> '{}'))
                WHEN coalesce(jsonb_typeof(r.requester), 'null') NOT IN ('null', 'string') THEN
                    '22023 "requester" must be a string, not ' || jsonb_typeof(r.requester)
                WHEN coalesce(jsonb_typeof(r.reason), 'null') NOT IN ('null', 'string') THEN
                    '22023 "reason" must be a string, not ' || jsonb_typeof(r.reason)
                END AS problem
            FROM ROWS FROM (jsonb_to_recordset(p_jobs)
                            AS (target jsonb, metadata jsonb, scheduled_start jsonb,
                                priority jsonb, max_retries jsonb, requester jsonb, reason jsonb))
                 WITH ORDINALITY AS r(target, metadata, scheduled_start, priority, max_retries,
                                      requester, reason, n)
        ) AS p;
        starts := bad.starts;
    END IF;
    IF bad.problem IS NULL THEN
        bad.n := total + 1;  -- no malformed element: look for bad times in all
    END IF;

    -- Start times PostgreSQL cannot read, before the first malformed element:
    -- one cast of them all, and only when that fails, one per element to
    -- name it. The block writes nothing, so it takes no transaction id.
    IF starts > 0 THEN
        BEGIN
            PERFORM count((e.v->>'scheduled_start')::timestamptz)
            FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(v, n)
            WHERE e.n < bad.n AND jsonb_typeof(e.v->'scheduled_start') = 'string';
        EXCEPTION WHEN data_exception THEN
            FOR e IN SELECT x.v, x.n FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS x(v, n)
                     WHERE x.n < bad.n AND jsonb_typeof(x.v->'scheduled_start') = 'string'
                     ORDER BY x.n
            LOOP
                DECLARE
                    state   text;
                    message text;
                BEGIN
                    PERFORM (e.v->>'scheduled_start')::timestamptz;
                EXCEPTION WHEN data_exception THEN
                    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
                    RAISE EXCEPTION '%', jobrunner_enqueue_element(e.n, total)
                        || format('invalid start time %s: %s', e.v->>'scheduled_start', message)
                        USING ERRCODE = state;
                END;
            END LOOP;
            RAISE;  -- not reached: the loop found the element
        END;
    END IF;
    IF bad.problem IS NOT NULL THEN
        RAISE EXCEPTION '%', jobrunner_enqueue_element(bad.n, total) || substr(bad.problem, 7)
            USING ERRCODE = left(bad.problem, 5);
    END IF;

    IF t.type_table IS NOT NULL THEN
        -- Unknown targets, before anything is written (the type table's
        -- foreign key would refuse them too, without naming the element).
        EXECUTE format('SELECT e.n, e.v->>''target'' AS target'
                       ' FROM jsonb_array_elements($1) WITH ORDINALITY AS e(v, n)'
                       ' WHERE NOT EXISTS (SELECT 1 FROM %I AS x WHERE x.id = (e.v->>''target'')::bigint)'
                       ' ORDER BY e.n LIMIT 1', t.target_table)
            INTO bad USING p_jobs;
        IF bad.n IS NOT NULL THEN
            RAISE EXCEPTION '%', jobrunner_enqueue_element(bad.n, total)
                || format('there is no %s with id %s', t.target_table, bad.target)
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;

    -- Ids are drawn first, in the order of `jobs`, so that both inserts and
    -- the result line up by ordinal. Jobs are inserted in key order (two
    -- calls wait for each other's keys in one order: no deadlock); a job
    -- whose key is pending already is skipped (ON CONFLICT DO NOTHING) and
    -- reported below. The type rows' foreign key to job is checked at the
    -- end of the statement, when both inserts are done.
    EXECUTE format($sql$
        WITH input AS MATERIALIZED (
            SELECT nextval($2::regclass) AS id, r.*,
                   CASE WHEN $4 THEN coalesce(r.target, 0) END AS key
            FROM ROWS FROM (jsonb_to_recordset($1)
                            AS (target bigint, metadata jsonb, scheduled_start timestamptz,
                                priority smallint, max_retries integer, requester text,
                                reason text))
                 WITH ORDINALITY AS r(target, metadata, scheduled_start, priority, max_retries,
                                      requester, reason, n)
        ),
        written AS (
            INSERT INTO job (id, job_type, requester, reason, priority, scheduled_start,
                             max_retries, json_data, pending_key)
            SELECT id, $3, requester, reason, coalesce(priority, 0), scheduled_start,
                   coalesce(max_retries, $5), %s, key
            FROM input ORDER BY key, n
            ON CONFLICT (job_type, pending_key) WHERE pending_key IS NOT NULL AND status IN (0, 1, 4)
            DO NOTHING
            RETURNING id
        )%s
        SELECT (SELECT count(*) FROM written) AS written,
               (SELECT array_agg(id ORDER BY n) FROM input) AS ids
        $sql$,
        CASE WHEN t.type_table IS NULL THEN 'coalesce(metadata, ''{}''::jsonb)' ELSE '''{}''::jsonb' END,
        CASE WHEN t.type_table IS NULL THEN '' ELSE format($typed$,
        typed AS (
            INSERT INTO %I (job, %I, job_type, json_data)
            SELECT i.id, i.target, $6, coalesce(i.metadata, '{}'::jsonb)
            FROM input AS i JOIN written AS w ON w.id = i.id
            ORDER BY i.n
        )$typed$, t.type_table, t.target_column) END)
        INTO written, ids
        USING p_jobs, pg_get_serial_sequence('job', 'id')::regclass, t.name,
              t.one_pending, t.max_retries, t.type_code;
    IF written = total THEN
        RETURN ids;
    END IF;

    -- A duplicate: the first job (in the order of `jobs`) that was skipped,
    -- and the pending job of its key (an earlier one of this call, or one
    -- that was there, or that a concurrent transaction committed).
    SELECT u.n, u.id INTO bad
    FROM unnest(ids) WITH ORDINALITY AS u(id, n)
    WHERE NOT EXISTS (SELECT 1 FROM job AS j WHERE j.id = u.id)
    ORDER BY u.n LIMIT 1;
    e := NULL;
    SELECT coalesce((p_jobs->(bad.n::integer - 1)->>'target')::bigint, 0) AS key INTO e;
    SELECT j.id INTO pending FROM job AS j
    WHERE j.job_type = t.name AND j.pending_key = e.key AND j.status IN (0, 1, 4)
    ORDER BY j.id LIMIT 1;
    what := CASE WHEN t.type_table IS NULL THEN format('a %s', t.display_name)
                 ELSE format('a %s for %s %s', t.display_name, t.target_table, e.key) END;
    RAISE EXCEPTION '%', jobrunner_enqueue_element(bad.n, total) || what || ' is already pending (' ||
        CASE WHEN pending IS NULL THEN 'in a transaction that committed meanwhile'
             WHEN pending = ANY(ids) THEN format('job %s of %s', array_position(ids, pending), total)
             ELSE format('job %s', pending) END || ')'
        USING ERRCODE = 'unique_violation', CONSTRAINT = 'job__one_pending__idx';
END;
$$;

-- One job: jobrunner_enqueue_many() with one element, so the rules have one
-- implementation. Returns the new job's id. priority is an integer (not the
-- column's smallint) so that a literal works as it is written:
-- jobrunner_enqueue('foo', 5, priority => 3); it must lie in -32768..32767.
CREATE FUNCTION jobrunner_enqueue(
    job_type        text,
    target          bigint      DEFAULT NULL,
    metadata        jsonb       DEFAULT '{}',
    scheduled_start timestamptz DEFAULT NULL,
    priority        integer     DEFAULT NULL,
    max_retries     integer     DEFAULT NULL,
    requester       text        DEFAULT NULL,
    reason          text        DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT (jobrunner_enqueue_many(job_type, jsonb_build_array(jsonb_build_object(
        'target', target, 'metadata', metadata, 'scheduled_start', scheduled_start,
        'priority', priority, 'max_retries', max_retries, 'requester', requester,
        'reason', reason))))[1]
$$;

-- Both resolve the schema's tables by a fixed search_path (the schema the
-- migration runs in), whatever the caller's. EXECUTE is granted to the
-- enqueuer roles of security.cfg only (jobctl db permissions), not PUBLIC.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION jobrunner_enqueue_many(text, jsonb) SET search_path = %I',
                   current_schema());
    EXECUTE format('ALTER FUNCTION jobrunner_enqueue(text, bigint, jsonb, timestamptz, integer, integer, text, text) SET search_path = %I',
                   current_schema());
END;
$$;
REVOKE EXECUTE ON FUNCTION jobrunner_enqueue_many(text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION jobrunner_enqueue(text, bigint, jsonb, timestamptz, integer, integer, text, text) FROM PUBLIC;

COMMENT ON FUNCTION jobrunner_enqueue_many(text, jsonb) IS 'Enqueues jobs of one type from a JSON array of objects (target, metadata, scheduled_start, priority, max_retries, requester, reason) and returns their ids in input order; all or nothing. Refusals name the element: 42704 unknown type, 22023 malformed input, 23502 no target, 23503 unknown target, 23505 a pending job exists (named). Caller''s rights; see docs/enqueue-from-sql.md.';
COMMENT ON FUNCTION jobrunner_enqueue(text, bigint, jsonb, timestamptz, integer, integer, text, text) IS 'Enqueues one job (jobrunner_enqueue_many with one element) and returns its id; the same rules and SQLSTATEs. priority is an integer in -32768..32767.';
