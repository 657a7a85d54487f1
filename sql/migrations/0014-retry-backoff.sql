-- Retry backoff in the registry (issue 12): a type may opt in to
-- exponential backoff with jitter, capped (RetryPolicy in
-- include/jobrunner/core/decision.hpp; docs/architecture.md, "Retry delays
-- and backoff"). Two columns on job_type, and jobrunner_register_type gains
-- two optional parameters with defaults that keep today's behaviour (every
-- retry waits retry_delay), so every existing package migration, which does
-- not name them, registers its type exactly as before.
--
-- The function gets new parameters, so its old signature is dropped and the
-- new one created (CREATE OR REPLACE cannot add parameters; a second
-- overload would make calls by name ambiguous). Its body is 0010's with the
-- two new columns.

ALTER TABLE job_type
    ADD COLUMN retry_backoff   boolean  NOT NULL DEFAULT false,
    ADD COLUMN max_retry_delay interval NOT NULL DEFAULT '1 hour'
               CONSTRAINT job_type__max_retry_delay__nonnegative CHECK (max_retry_delay >= interval '0'),
    ADD CONSTRAINT job_type__max_retry_delay__at_least_retry_delay
               CHECK (NOT retry_backoff OR max_retry_delay >= retry_delay);

COMMENT ON COLUMN job_type.retry_backoff IS 'Whether retries back off: the wait after attempt n is between half and all of min(max_retry_delay, retry_delay * 2^(n-1)) (equal jitter). False: every retry waits retry_delay. Either way never less than a retry error''s minimum delay (an HTTP Retry-After).';
COMMENT ON COLUMN job_type.max_retry_delay IS 'With retry_backoff: the cap of the doubling wait (a retry error''s minimum delay may exceed it). Unused without backoff.';
COMMENT ON COLUMN job_type.retry_delay IS 'How long a job that raised a retry error waits before it runs again; with retry_backoff, the first wait, which doubles with each attempt (a runner''s --retry-delay overrides it).';

DROP FUNCTION jobrunner_register_type(text, text, text, text, text, integer, integer, interval,
                                      interval, boolean, boolean, text);

-- Registers a job type, or updates its row (0010's contract, unchanged),
-- with its retry backoff: retry_backoff (default false) and max_retry_delay
-- (default 1 hour; with backoff at least retry_delay, else 22023).
CREATE FUNCTION jobrunner_register_type(
    name              text,
    display_name      text,
    type_table        text     DEFAULT NULL,
    target_column     text     DEFAULT NULL,
    target_table      text     DEFAULT NULL,
    type_code         integer  DEFAULT NULL,
    max_retries       integer  DEFAULT 3,
    retry_delay       interval DEFAULT '30 seconds',
    lease             interval DEFAULT '5 minutes',
    one_pending       boolean  DEFAULT true,
    batch_completions boolean  DEFAULT false,
    package           text     DEFAULT NULL,
    retry_backoff     boolean  DEFAULT false,
    max_retry_delay   interval DEFAULT '1 hour'
) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    p_name    CONSTANT text := jobrunner_register_type.name;
    p_package CONSTANT text := coalesce(jobrunner_register_type.package,
                                        nullif(current_setting('jobrunner.package', true), ''));
    old       job_type%ROWTYPE;
    missing   text;
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_]{0,39}$' THEN
        RAISE EXCEPTION 'job type name % is not valid: use 1 to 40 lower case letters, digits and _, starting with a letter', quote_nullable(p_name)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_package IS NULL THEN
        RAISE EXCEPTION 'job type %: no package given; pass package => ''name'' (jobctl db upgrade passes the package it applies)', p_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT ((type_table IS NULL) = (target_column IS NULL)
            AND (type_table IS NULL) = (target_table IS NULL)
            AND (type_table IS NULL) = (type_code IS NULL)) THEN
        RAISE EXCEPTION 'job type %: give type_table, target_column, target_table and type_code together, or none of them (a type without a table of its own)', p_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_retries IS NULL OR max_retries < 0 OR retry_delay IS NULL OR retry_delay < interval '0'
       OR lease IS NULL OR lease < interval '1 second' THEN
        RAISE EXCEPTION 'job type %: max_retries must be 0 or more, retry_delay 0 or more and lease at least 1 second (given %, %, %)', p_name, max_retries, retry_delay, lease
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF retry_backoff IS NULL OR max_retry_delay IS NULL OR max_retry_delay < interval '0'
       OR (retry_backoff AND max_retry_delay < retry_delay) THEN
        RAISE EXCEPTION 'job type %: with retry_backoff, max_retry_delay must be at least retry_delay (given %, %, %)', p_name, retry_backoff, retry_delay, max_retry_delay
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF display_name IS NULL OR display_name !~ '^\S(.*\S)?$' THEN
        RAISE EXCEPTION 'job type %: display_name must be a non-empty name without surrounding spaces', p_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF type_table IS NOT NULL THEN
        IF type_table !~ '^[a-z_][a-z0-9_]{0,62}$' OR target_column !~ '^[a-z_][a-z0-9_]{0,62}$'
           OR target_table !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
            RAISE EXCEPTION 'job type %: type_table, target_column and target_table must be plain lower case names', p_name
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF to_regclass(type_table) IS NULL THEN
            RAISE EXCEPTION 'job type %: table % does not exist; create it before registering the type', p_name, type_table
                USING ERRCODE = 'undefined_table';
        END IF;
        IF to_regclass(target_table) IS NULL THEN
            RAISE EXCEPTION 'job type %: target table % does not exist', p_name, target_table
                USING ERRCODE = 'undefined_table';
        END IF;
        SELECT string_agg(c, ', ') INTO missing
        FROM unnest(ARRAY['job', target_column, 'job_type', 'json_data']) AS c
        WHERE NOT EXISTS (SELECT 1 FROM pg_attribute AS a
                          WHERE a.attrelid = to_regclass(type_table) AND a.attname = c
                            AND a.attnum > 0 AND NOT a.attisdropped);
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'job type %: table % has no column %', p_name, type_table, missing
                USING ERRCODE = 'undefined_column',
                      HINT = 'A type''s table needs the columns job, <target_column>, job_type and json_data.';
        END IF;
    END IF;

    SELECT * INTO old FROM job_type AS t WHERE t.name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO job_type (name, display_name, type_table, target_column, target_table,
                              type_code, max_retries, retry_delay, lease, one_pending,
                              batch_completions, package, retry_backoff, max_retry_delay)
        VALUES (p_name, display_name, type_table, target_column, target_table, type_code,
                max_retries, retry_delay, lease, one_pending, batch_completions, p_package,
                retry_backoff, max_retry_delay);
        RETURN;
    END IF;
    IF old.package <> p_package THEN
        RAISE EXCEPTION 'job type % belongs to package %; package % cannot register it', p_name, old.package, p_package
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (old.type_table IS DISTINCT FROM type_table
        OR old.target_column IS DISTINCT FROM target_column
        OR old.type_code IS DISTINCT FROM type_code)
       AND EXISTS (SELECT 1 FROM job AS j WHERE j.job_type = p_name) THEN
        RAISE EXCEPTION 'job type %: cannot change its table, target column or type code (registered: %, %, %; given: %, %, %) while jobs of the type exist',
            p_name, quote_nullable(old.type_table), quote_nullable(old.target_column), quote_nullable(old.type_code),
            quote_nullable(type_table), quote_nullable(target_column), quote_nullable(type_code)
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register a new type under a new name instead, or delete the type''s jobs first.';
    END IF;
    UPDATE job_type AS t
    SET display_name = jobrunner_register_type.display_name,
        type_table = jobrunner_register_type.type_table,
        target_column = jobrunner_register_type.target_column,
        target_table = jobrunner_register_type.target_table,
        type_code = jobrunner_register_type.type_code,
        max_retries = jobrunner_register_type.max_retries,
        retry_delay = jobrunner_register_type.retry_delay,
        lease = jobrunner_register_type.lease,
        one_pending = jobrunner_register_type.one_pending,
        batch_completions = jobrunner_register_type.batch_completions,
        retry_backoff = jobrunner_register_type.retry_backoff,
        max_retry_delay = jobrunner_register_type.max_retry_delay,
        date_updated = now()
    WHERE t.name = p_name
      AND (t.display_name, t.type_table, t.target_column, t.target_table, t.type_code,
           t.max_retries, t.retry_delay, t.lease, t.one_pending, t.batch_completions,
           t.retry_backoff, t.max_retry_delay)
          IS DISTINCT FROM
          (jobrunner_register_type.display_name, jobrunner_register_type.type_table,
           jobrunner_register_type.target_column, jobrunner_register_type.target_table,
           jobrunner_register_type.type_code, jobrunner_register_type.max_retries,
           jobrunner_register_type.retry_delay, jobrunner_register_type.lease,
           jobrunner_register_type.one_pending, jobrunner_register_type.batch_completions,
           jobrunner_register_type.retry_backoff, jobrunner_register_type.max_retry_delay);
END;
$$;

COMMENT ON FUNCTION jobrunner_register_type(text, text, text, text, text, integer, integer, interval, interval, boolean, boolean, text, boolean, interval) IS 'Registers a job type in job_type or updates its row (idempotent; call it with named arguments from the type''s migration). Refuses to change type_table, target_column or type_code while jobs of the type exist (SQLSTATE 55000), a missing table (42P01) or column (42703), and malformed values (22023). retry_backoff and max_retry_delay (patch 0014) default to no backoff.';
