-- The job type registry (issue 11): the database knows every job type, so
-- the installed jobctl serves any type without a rebuild, and a runner
-- checks at its start that its compiled JobTypeSpec agrees with the row.
-- A type's own migration registers it with jobrunner_register_type(); this
-- patch registers FooJob and NoopJob, whose tables earlier patches created.
-- It also gives the revision table a package column: the patches of job
-- type packages (share/jobrunner/migrations/<package>/, or jobctl db
-- upgrade --migrations-dir) have numbered sequences of their own.

CREATE TABLE job_type (
    name              text        PRIMARY KEY
                      CONSTRAINT job_type__name__valid CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    display_name      text        NOT NULL
                      CONSTRAINT job_type__display_name__valid CHECK (display_name ~ '^\S(.*\S)?$'),
    type_table        text
                      CONSTRAINT job_type__type_table__valid CHECK (type_table ~ '^[a-z_][a-z0-9_]{0,62}$'),
    target_column     text
                      CONSTRAINT job_type__target_column__valid CHECK (target_column ~ '^[a-z_][a-z0-9_]{0,62}$'),
    target_table      text
                      CONSTRAINT job_type__target_table__valid CHECK (target_table ~ '^[a-z_][a-z0-9_]{0,62}$'),
    type_code         integer,
    max_retries       integer     NOT NULL DEFAULT 3
                      CONSTRAINT job_type__max_retries__nonnegative CHECK (max_retries >= 0),
    retry_delay       interval    NOT NULL DEFAULT '30 seconds'
                      CONSTRAINT job_type__retry_delay__nonnegative CHECK (retry_delay >= interval '0'),
    lease             interval    NOT NULL DEFAULT '5 minutes'
                      CONSTRAINT job_type__lease__minimum CHECK (lease >= interval '1 second'),
    one_pending       boolean     NOT NULL DEFAULT true,
    batch_completions boolean     NOT NULL DEFAULT false,
    package           text        NOT NULL
                      CONSTRAINT job_type__package__valid CHECK (package ~ '^[a-z][a-z0-9_-]{0,62}$'),
    date_registered   timestamptz NOT NULL DEFAULT now(),
    date_updated      timestamptz NOT NULL DEFAULT now(),
    -- A type has a table of its own (with its target and type code), or none
    -- of the four: its jobs then keep their data in job.json_data.
    CONSTRAINT job_type__table__all_or_none CHECK (
        (type_table IS NULL) = (target_column IS NULL)
        AND (type_table IS NULL) = (target_table IS NULL)
        AND (type_table IS NULL) = (type_code IS NULL))
);

COMMENT ON TABLE job_type IS 'The registry of job types: one row per type, written by the type''s migration (jobrunner_register_type). jobctl learns every type here; a runner reads its row at start (its defaults) and exits 78 if its compiled JobTypeSpec disagrees on name, table, target column, type code or batch completions.';
COMMENT ON COLUMN job_type.name IS 'The type''s name: the value of job.job_type (which references it), the runner''s name (run-<name>-jobs) and the NOTIFY channel (jobrunner_<name>). Lower case letters, digits and _, at most 40.';
COMMENT ON COLUMN job_type.display_name IS 'For people and log lines: "Ran 3 FooJobs."';
COMMENT ON COLUMN job_type.type_table IS 'The type''s own table (columns job, <target_column>, job_type, json_data), or NULL for a type whose jobs have no table of their own. Cannot change once jobs of the type exist.';
COMMENT ON COLUMN job_type.target_column IS 'The column of type_table that names what a job is about (foojob.foo); jobctl enqueue accepts --<target_column> as an alias of --target. NULL without a table. Cannot change once jobs exist.';
COMMENT ON COLUMN job_type.target_table IS 'The table that target_column references (foo); NULL without a table.';
COMMENT ON COLUMN job_type.type_code IS 'The value of <type_table>.job_type for this type (Launchpad''s FooJobType); NULL without a table. Cannot change once jobs exist.';
COMMENT ON COLUMN job_type.max_retries IS 'The default job.max_retries of a new job: retries after its first attempt.';
COMMENT ON COLUMN job_type.retry_delay IS 'How long a job that raised a retry error waits before it runs again (a runner''s --retry-delay overrides it).';
COMMENT ON COLUMN job_type.lease IS 'How long a runner holds a claimed job before others may rescue it (a runner''s --lease overrides it); at least 1 second.';
COMMENT ON COLUMN job_type.one_pending IS 'At most one pending (WAITING, RUNNING, SUSPENDED) job per target; for a type without a target, at most one pending job of the type.';
COMMENT ON COLUMN job_type.batch_completions IS 'The type''s jobs do no database work of their own (NonTransactionalJob), so runners record their completions many per statement.';
COMMENT ON COLUMN job_type.package IS 'The package whose migration registered the type (jobrunner for the types of the core patches); another package cannot re-register it.';
COMMENT ON COLUMN job_type.date_registered IS 'When the type was first registered.';
COMMENT ON COLUMN job_type.date_updated IS 'When its row last changed.';

-- Registers a job type, or updates its row: idempotent, so a package's
-- migration calls it once and a later migration of the package may call it
-- again with new defaults. Refuses, raising an error that names the value:
--   22023 (invalid_parameter_value) a malformed name or value, a table given
--         without its target column, target table and type code (or the
--         reverse), a type that another package registered, no package;
--   42P01 (undefined_table) type_table or target_table does not exist;
--   42703 (undefined_column) type_table lacks job, <target_column>, job_type
--         or json_data;
--   55000 (object_not_in_prerequisite_state) a change of type_table,
--         target_column or type_code while jobs of the type exist.
-- `package` defaults to the package whose patch jobctl db upgrade is
-- applying (it sets jobrunner.package for the patch's transaction).
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
    package           text     DEFAULT NULL
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
                              batch_completions, package)
        VALUES (p_name, display_name, type_table, target_column, target_table, type_code,
                max_retries, retry_delay, lease, one_pending, batch_completions, p_package);
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
        date_updated = now()
    WHERE t.name = p_name
      AND (t.display_name, t.type_table, t.target_column, t.target_table, t.type_code,
           t.max_retries, t.retry_delay, t.lease, t.one_pending, t.batch_completions)
          IS DISTINCT FROM
          (jobrunner_register_type.display_name, jobrunner_register_type.type_table,
           jobrunner_register_type.target_column, jobrunner_register_type.target_table,
           jobrunner_register_type.type_code, jobrunner_register_type.max_retries,
           jobrunner_register_type.retry_delay, jobrunner_register_type.lease,
           jobrunner_register_type.one_pending, jobrunner_register_type.batch_completions);
END;
$$;

COMMENT ON FUNCTION jobrunner_register_type(text, text, text, text, text, integer, integer, interval, interval, boolean, boolean, text) IS 'Registers a job type in job_type or updates its row (idempotent; call it with named arguments from the type''s migration). Refuses to change type_table, target_column or type_code while jobs of the type exist (SQLSTATE 55000), a missing table (42P01) or column (42703), and malformed values (22023).';

-- FooJob and NoopJob: exactly their compiled JobTypeSpecs (jobs/foo,
-- jobs/noop), whose tables patches 0002 and 0006 created.
SELECT jobrunner_register_type(
    name => 'foo', display_name => 'FooJob',
    type_table => 'foojob', target_column => 'foo', target_table => 'foo', type_code => 0,
    max_retries => 3, retry_delay => '30 seconds', lease => '5 minutes',
    one_pending => true, batch_completions => false, package => 'jobrunner');
SELECT jobrunner_register_type(
    name => 'noop', display_name => 'NoopJob',
    type_table => 'noopjob', target_column => 'foo', target_table => 'foo', type_code => 0,
    max_retries => 3, retry_delay => '30 seconds', lease => '5 minutes',
    one_pending => false, batch_completions => true, package => 'jobrunner');

-- No job of an unknown type: job.job_type references the registry (a plain
-- INSERT with a misspelt type fails instead of creating a job that no runner
-- claims, and a type cannot be dropped from the registry while it has jobs).
-- The check costs one index lookup per inserted job; claims and finishes do
-- not change job_type and pay nothing. Added NOT VALID, then validated; a
-- database that holds jobs of types this patch does not register (a fork's
-- own types) keeps the constraint NOT VALID, which still checks every new
-- row, and says so: register those types, then run
-- ALTER TABLE job VALIDATE CONSTRAINT job__job_type__fk.
ALTER TABLE job ADD CONSTRAINT job__job_type__fk
    FOREIGN KEY (job_type) REFERENCES job_type (name) NOT VALID;
DO $$
DECLARE
    unknown text;
BEGIN
    SELECT string_agg(DISTINCT j.job_type, ', ') INTO unknown
    FROM job AS j WHERE NOT EXISTS (SELECT 1 FROM job_type AS t WHERE t.name = j.job_type);
    IF unknown IS NULL THEN
        ALTER TABLE job VALIDATE CONSTRAINT job__job_type__fk;
    ELSE
        RAISE WARNING 'jobs of unregistered job types exist (%): job__job_type__fk stays NOT VALID until they are registered (jobrunner_register_type) and it is validated', unknown;
    END IF;
END;
$$;
COMMENT ON CONSTRAINT job__job_type__fk ON job IS 'Every job is of a registered type (job_type).';

-- The revision table: one sequence of patch numbers per package. Rows
-- already applied are jobrunner''s own (the core patches).
ALTER TABLE database_revision ADD COLUMN package text NOT NULL DEFAULT 'jobrunner';
ALTER TABLE database_revision ALTER COLUMN package DROP DEFAULT;
ALTER TABLE database_revision DROP CONSTRAINT database_revision_pkey;
ALTER TABLE database_revision ADD CONSTRAINT database_revision_pkey PRIMARY KEY (package, number);
COMMENT ON TABLE database_revision IS 'One row per applied schema patch, written by jobctl db upgrade: jobrunner''s own (package jobrunner, built into jobctl) and those of job type packages (share/jobrunner/migrations/<package>/ or --migrations-dir), each package with its own numbers.';
COMMENT ON COLUMN database_revision.package IS 'The package of the patch: jobrunner for the core patches, else the name of the package''s directory.';
COMMENT ON COLUMN database_revision.number IS 'The patch number, the leading digits of its file name; unique within its package.';
