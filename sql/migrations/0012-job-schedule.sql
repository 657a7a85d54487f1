-- Recurring schedules (issue 14): a schedule enqueues a job of a registered
-- type at each occurrence of a cron expression in an IANA time zone
-- (docs/schedules.md). The database holds the schedules and one record per
-- handled occurrence; computing occurrences is C++ (core/cron_schedule.hpp),
-- which also computes next_due. The tick (src/pg/schedules.cpp, run by
-- runners and `jobctl schedule tick`) locks a due schedule FOR UPDATE SKIP
-- LOCKED and, in one transaction, records each occurrence (the primary key
-- of job_schedule_occurrence) together with the job it enqueues, so that any
-- number of tickers on any number of hosts enqueue an occurrence once.

CREATE TABLE job_schedule (
    id              bigserial   PRIMARY KEY,
    name            text        NOT NULL
                    CONSTRAINT job_schedule__name__key UNIQUE
                    CONSTRAINT job_schedule__name__valid CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
    job_type        text        NOT NULL
                    CONSTRAINT job_schedule__job_type__fk REFERENCES job_type (name),
    target          bigint,
    metadata        jsonb       NOT NULL DEFAULT '{}'
                    CONSTRAINT job_schedule__metadata__object CHECK (jsonb_typeof(metadata) = 'object'),
    priority        integer
                    CONSTRAINT job_schedule__priority__range CHECK (priority BETWEEN -32768 AND 32767),
    max_retries     integer
                    CONSTRAINT job_schedule__max_retries__nonnegative CHECK (max_retries >= 0),
    cron            text        NOT NULL
                    CONSTRAINT job_schedule__cron__not_blank CHECK (cron ~ '\S'),
    time_zone       text        NOT NULL DEFAULT 'UTC'
                    CONSTRAINT job_schedule__time_zone__not_blank CHECK (time_zone ~ '^\S+$'),
    misfire         text        NOT NULL DEFAULT 'once'
                    CONSTRAINT job_schedule__misfire__valid CHECK (misfire IN ('skip', 'once', 'all')),
    misfire_limit   integer     NOT NULL DEFAULT 100
                    CONSTRAINT job_schedule__misfire_limit__range CHECK (misfire_limit BETWEEN 1 AND 10000),
    misfire_grace   interval    NOT NULL DEFAULT '5 minutes'
                    CONSTRAINT job_schedule__misfire_grace__range
                    CHECK (misfire_grace >= interval '0' AND misfire_grace <= interval '1 day'),
    paused          boolean     NOT NULL DEFAULT false,
    next_due        timestamptz NOT NULL,
    last_occurrence timestamptz,
    date_created    timestamptz NOT NULL DEFAULT now(),
    date_updated    timestamptz NOT NULL DEFAULT now()
);

-- The tick's lookup: the due, unpaused schedules of some types.
CREATE INDEX job_schedule__due__idx ON job_schedule (job_type, next_due) WHERE NOT paused;

COMMENT ON TABLE job_schedule IS 'Recurring jobs: each row enqueues a job of job_type at every occurrence of cron in time_zone (docs/schedules.md). Written by jobctl schedule add|pause|resume|remove; the tick (runners, jobctl schedule tick) reads due rows FOR UPDATE SKIP LOCKED and advances next_due.';
COMMENT ON COLUMN job_schedule.id IS 'Surrogate key; job_schedule_occurrence.schedule references it.';
COMMENT ON COLUMN job_schedule.name IS 'The operator''s name of the schedule (jobctl schedule show NAME): 1 to 100 lower case letters, digits, _, . and -, starting with a letter or digit. Jobs it enqueues carry requester schedule:<name>.';
COMMENT ON COLUMN job_schedule.job_type IS 'The registered type (job_type.name) of the jobs it enqueues; a type cannot be dropped from the registry while a schedule names it.';
COMMENT ON COLUMN job_schedule.target IS 'What each job is about (<target_table>.id of the type), or NULL for a type without a table of its own. Checked when the schedule is added; an enqueue refused later (the target was deleted) is recorded as a skipped occurrence.';
COMMENT ON COLUMN job_schedule.metadata IS 'The JSON object each job gets as its metadata (the type table''s json_data, or job.json_data).';
COMMENT ON COLUMN job_schedule.priority IS 'The jobs'' priority (-32768..32767, lower first); NULL: 0.';
COMMENT ON COLUMN job_schedule.max_retries IS 'The jobs'' max_retries; NULL: the type''s default (job_type.max_retries).';
COMMENT ON COLUMN job_schedule.cron IS 'A cron expression: 5 fields or a macro such as @daily (docs/schedules.md#syntax); validated by jobctl schedule add, which writes nothing for a bad one.';
COMMENT ON COLUMN job_schedule.time_zone IS 'The IANA time zone (Europe/Berlin, UTC) whose wall-clock minutes cron matches, read from the system''s tzdata; daylight saving as ISC/Vixie cron.';
COMMENT ON COLUMN job_schedule.misfire IS 'What a tick does with occurrences more than misfire_grace late (missed while nothing ticked): skip: none of them; once: the latest one (a single catch-up); all: every one, at most misfire_limit (the latest). On-time occurrences are always enqueued.';
COMMENT ON COLUMN job_schedule.misfire_limit IS 'The bound on the missed occurrences that misfire all enqueues in one tick (the latest ones; the rest are left out and recorded as such), 1..10000.';
COMMENT ON COLUMN job_schedule.misfire_grace IS 'How late an occurrence may be at the tick and still be on time (enqueued under every policy); older ones are missed. 0 to 1 day.';
COMMENT ON COLUMN job_schedule.paused IS 'A paused schedule is not ticked; resuming it sets next_due to the first occurrence after the resume, so it fires no backlog.';
COMMENT ON COLUMN job_schedule.next_due IS 'The earliest occurrence not yet handled, computed by C++ (core CronSchedule) when the schedule is added or resumed and by each tick; the tick picks schedules with next_due <= now.';
COMMENT ON COLUMN job_schedule.last_occurrence IS 'The latest occurrence a tick recorded (enqueued, or skipped with its reason); NULL before the first.';
COMMENT ON COLUMN job_schedule.date_created IS 'When the schedule was added.';
COMMENT ON COLUMN job_schedule.date_updated IS 'When its row last changed (a tick, a pause, a resume).';

CREATE TABLE job_schedule_occurrence (
    schedule      bigint      NOT NULL
                  CONSTRAINT job_schedule_occurrence__schedule__fk
                  REFERENCES job_schedule (id) ON DELETE CASCADE,
    occurs_at     timestamptz NOT NULL,
    job           bigint
                  CONSTRAINT job_schedule_occurrence__job__fk
                  REFERENCES job (id) ON DELETE CASCADE,
    skipped       text,
    date_recorded timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_schedule_occurrence__pkey PRIMARY KEY (schedule, occurs_at),
    CONSTRAINT job_schedule_occurrence__job_or_skipped CHECK (job IS NULL OR skipped IS NULL)
);

-- ON DELETE CASCADE from job (prune) looks occurrences up by job.
CREATE INDEX job_schedule_occurrence__job__idx ON job_schedule_occurrence (job)
    WHERE job IS NOT NULL;
-- Pruning skipped records by age.
CREATE INDEX job_schedule_occurrence__skipped__idx ON job_schedule_occurrence (date_recorded)
    WHERE job IS NULL;

COMMENT ON TABLE job_schedule_occurrence IS 'One row per handled occurrence of a schedule, written by the tick in the transaction that enqueues its job: the primary key (schedule, occurs_at) makes each occurrence enqueued at most once, whoever ticks. Pruned with the jobs: a job''s deletion removes its row (ON DELETE CASCADE), jobctl prune deletes skipped rows older than its cut-off; ticks look only after next_due, so a pruned row never fires again.';
COMMENT ON COLUMN job_schedule_occurrence.schedule IS 'The schedule (job_schedule.id); removing the schedule removes its rows, never its jobs.';
COMMENT ON COLUMN job_schedule_occurrence.occurs_at IS 'The occurrence, an instant (UTC) computed from the schedule''s cron and time zone.';
COMMENT ON COLUMN job_schedule_occurrence.job IS 'The job enqueued for it; NULL when it was skipped.';
COMMENT ON COLUMN job_schedule_occurrence.skipped IS 'Why no job was enqueued: a duplicate pending job ("a FooJob for foo 3 is already pending (job 17)"), another refusal of the enqueue, or missed occurrences left out by the misfire policy (one row, at the latest of them, says how many and from when). NULL when job is set.';
COMMENT ON COLUMN job_schedule_occurrence.date_recorded IS 'When the tick recorded it (the database''s clock).';
