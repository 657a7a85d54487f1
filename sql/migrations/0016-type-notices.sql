-- Notices that reach people, as jobs (issue 12, item 3; docs/mail-jobs.md,
-- "Notices"). Two triggers turn the rows that record a failure into jobs:
--   - a job_notification row (a user error; the default notification hook
--     writes it) whose recipient is a mail address enqueues a mail job to
--     that address;
--   - an error_report row enqueues a mail job to the operators of the failed
--     job's type (job_type.operator_mail) and a webhook job to its endpoint
--     (job_type.operator_webhook), each when set.
--
-- Why AFTER INSERT triggers rather than a call in each place that records a
-- failure: every path that writes those rows (a runner's completer, its
-- rescue, an isolated child's report, a hook of another team's type, a
-- runner written in another language) enqueues its notice without knowing
-- of it, in the statement's own transaction: the notice exists exactly when
-- the failure does (exactly once, never lost on a crash, rolled back with
-- it, also when a hook's savepoint is rolled back). SECURITY DEFINER with a
-- fixed search_path: the functions run with the rights of the schema's
-- owner, so a runner's role needs no grant to enqueue mail or webhook jobs,
-- and a caller's search_path cannot swap the tables they write.
--
-- Nothing is enqueued when the mail (or webhook) type is not registered (its
-- package not applied): the notice row stays, as before. A failure to
-- enqueue never fails the recording of the failure: it is caught and raised
-- as a WARNING (the row stays).
--
-- No notice loops: a job that is itself a notice (its metadata has a
-- "notice" object, as these functions write it) notifies nobody when it
-- fails; its error report stays for jobctl oops list. Notices have no
-- requester. So a failure leads to at most one generation of notices.

ALTER TABLE job_type
    ADD COLUMN operator_mail    text[] NOT NULL DEFAULT '{}',
    ADD COLUMN operator_webhook text
               CONSTRAINT job_type__operator_webhook__valid
               CHECK (operator_webhook ~ '^[A-Za-z0-9_.-]{1,100}$');

COMMENT ON COLUMN job_type.operator_mail IS 'Who hears of an error report of a job of this type: each error report enqueues one mail job to these addresses (when the mail type is registered). Set with jobrunner_set_type_notices() or jobctl type notices.';
COMMENT ON COLUMN job_type.operator_webhook IS 'An endpoint name of run-webhook-jobs'' endpoints file: each error report of a job of this type enqueues a webhook job to it (when the webhook type is registered). NULL: none.';

-- Whether `address` is a plain mail address (local@domain, a dot-atom local
-- part, a domain of letters, digits and hyphens): the rule of
-- jobs/mail/message.cpp (is_address), which refuses anything else.
CREATE FUNCTION jobrunner_is_mail_address(address text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(length(address) <= 254 AND address ~
        '^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$',
        false)
$$;

-- Sets who hears of a type's error reports: operator_mail (addresses; empty
-- for none) and operator_webhook (an endpoint name; NULL for none).
-- Refuses an unknown type (42704) and a malformed address or name (22023).
CREATE FUNCTION jobrunner_set_type_notices(job_type text, operator_mail text[] DEFAULT '{}',
                                           operator_webhook text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    bad text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM job_type AS t WHERE t.name = job_type) THEN
        RAISE EXCEPTION 'there is no job type %', quote_nullable(job_type)
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT a INTO bad FROM unnest(coalesce(operator_mail, '{}')) AS a
    WHERE NOT jobrunner_is_mail_address(a) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'job type %: % is not a mail address (local@domain)', job_type, coalesce(to_json(bad)::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF operator_webhook IS NOT NULL AND operator_webhook !~ '^[A-Za-z0-9_.-]{1,100}$' THEN
        RAISE EXCEPTION 'job type %: % is not an endpoint name (1 to 100 letters, digits, _, - or .)', job_type, to_json(operator_webhook)::text
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE job_type AS t
    SET operator_mail = ARRAY(SELECT DISTINCT a FROM unnest(coalesce(jobrunner_set_type_notices.operator_mail, '{}')) AS a ORDER BY a),
        operator_webhook = jobrunner_set_type_notices.operator_webhook,
        date_updated = now()
    WHERE t.name = job_type;
END;
$$;
REVOKE EXECUTE ON FUNCTION jobrunner_set_type_notices(text, text[], text) FROM PUBLIC;
COMMENT ON FUNCTION jobrunner_set_type_notices(text, text[], text) IS 'Sets job_type.operator_mail and operator_webhook of a type: who hears of its error reports (docs/mail-jobs.md). 42704 unknown type, 22023 a malformed address or endpoint name.';

-- What a notice says about a job: "FooJob 17 (foo 5)", or "ReportJob 3"
-- for a type without a target.
CREATE FUNCTION jobrunner_notice_job_label(job_id bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t      record;
    target text;
BEGIN
    SELECT jt.display_name, jt.type_table, jt.target_column, jt.target_table INTO t
    FROM job AS j JOIN job_type AS jt ON jt.name = j.job_type WHERE j.id = job_id;
    IF NOT FOUND THEN
        RETURN format('job %s', job_id);
    END IF;
    IF t.type_table IS NOT NULL THEN
        EXECUTE format('SELECT %I::text FROM %I WHERE job = $1', t.target_column, t.type_table)
            INTO target USING job_id;
    END IF;
    RETURN format('%s %s', t.display_name, job_id)
        || CASE WHEN target IS NULL THEN '' ELSE format(' (%s %s)', t.target_table, target) END;
END;
$$;

-- A user error: a mail to the requester, when the notice's recipient is an
-- address and the mail type is registered. Like Launchpad's
-- notifyUserError, the subject and body name the operation and the job, and
-- the body carries the error.
CREATE FUNCTION jobrunner_notice_of_user_error() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    label text;
BEGIN
    IF NEW.recipient IS NULL OR NOT jobrunner_is_mail_address(NEW.recipient)
       OR NOT EXISTS (SELECT 1 FROM job_type WHERE name = 'mail')
       OR EXISTS (SELECT 1 FROM job AS j WHERE j.id = NEW.job AND j.json_data ? 'notice') THEN
        RETURN NULL;
    END IF;
    BEGIN
        label := jobrunner_notice_job_label(NEW.job);
        PERFORM jobrunner_enqueue_many('mail', jsonb_build_array(jsonb_build_object(
            'reason', format('notice %s: user error of job %s', NEW.id, NEW.job),
            'metadata', jsonb_build_object(
                'to', NEW.recipient,
                'subject', format('jobrunner: %s failed', label),
                'body', format(E'jobrunner could not complete the following operation: %s,\n'
                               'requested by %s.\n\n'
                               'The error:\n\n%s\n\n'
                               'The job will not run again by itself. Once the cause is fixed,\n'
                               'it can be run again (jobctl retry %s).\n',
                               label, NEW.recipient, NEW.body, NEW.job),
                'notice', jsonb_build_object('kind', 'user_error', 'job', NEW.job,
                                             'job_notification', NEW.id)))));
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'notice % of job %: no mail enqueued: %', NEW.id, NEW.job, SQLERRM;
    END;
    RETURN NULL;
END;
$$;

-- An error report: a mail to the type's operators and a webhook to its
-- endpoint, each when set and its type registered.
CREATE FUNCTION jobrunner_notice_of_error_report() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    t     record;
    label text;
BEGIN
    IF NEW.job IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT jt.name, jt.operator_mail, jt.operator_webhook, j.json_data ? 'notice' AS is_notice
    INTO t FROM job AS j JOIN job_type AS jt ON jt.name = j.job_type WHERE j.id = NEW.job;
    -- Most types have no operators: no block (and no subtransaction) then.
    IF NOT FOUND OR t.is_notice OR (cardinality(t.operator_mail) = 0 AND t.operator_webhook IS NULL) THEN
        RETURN NULL;
    END IF;
    BEGIN
        label := jobrunner_notice_job_label(NEW.job);
        IF cardinality(t.operator_mail) > 0 AND EXISTS (SELECT 1 FROM job_type WHERE name = 'mail') THEN
            PERFORM jobrunner_enqueue_many('mail', jsonb_build_array(jsonb_build_object(
                'reason', format('notice: OOPS-%s of job %s', NEW.id, NEW.job),
                'metadata', jsonb_build_object(
                    'to', to_jsonb(t.operator_mail),
                    'subject', format('jobrunner: OOPS-%s in %s', NEW.id, label),
                    'body', format(E'An error report was filed for %s.\n\n'
                                   'OOPS-%s (%s):\n\n%s\n\n'
                                   'Variables: %s\n\n'
                                   'See: jobctl oops show %s; jobctl show %s\n',
                                   label, NEW.id, NEW.error_type, NEW.message,
                                   NEW.variables::text, NEW.id, NEW.job),
                    'notice', jsonb_build_object('kind', 'error_report', 'job', NEW.job,
                                                 'error_report', NEW.id)))));
        END IF;
        IF t.operator_webhook IS NOT NULL AND EXISTS (SELECT 1 FROM job_type WHERE name = 'webhook') THEN
            PERFORM jobrunner_enqueue_many('webhook', jsonb_build_array(jsonb_build_object(
                'reason', format('notice: OOPS-%s of job %s', NEW.id, NEW.job),
                'metadata', jsonb_build_object(
                    'endpoint', t.operator_webhook,
                    'body', jsonb_build_object(
                        'event', 'jobrunner.error_report',
                        'oops', format('OOPS-%s', NEW.id),
                        'error_report', NEW.id, 'job', NEW.job, 'job_type', t.name,
                        'operation', label, 'error_type', NEW.error_type,
                        'message', NEW.message, 'variables', NEW.variables,
                        'date_created', NEW.date_created),
                    'notice', jsonb_build_object('kind', 'error_report', 'job', NEW.job,
                                                 'error_report', NEW.id)))));
        END IF;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'OOPS-% of job %: no notice enqueued: %', NEW.id, NEW.job, SQLERRM;
    END;
    RETURN NULL;
END;
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION jobrunner_notice_of_user_error() SET search_path = %I', current_schema());
    EXECUTE format('ALTER FUNCTION jobrunner_notice_of_error_report() SET search_path = %I', current_schema());
    EXECUTE format('ALTER FUNCTION jobrunner_notice_job_label(bigint) SET search_path = %I', current_schema());
END;
$$;
REVOKE EXECUTE ON FUNCTION jobrunner_notice_of_user_error() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION jobrunner_notice_of_error_report() FROM PUBLIC;

CREATE TRIGGER job_notification__enqueue_mail
    AFTER INSERT ON job_notification FOR EACH ROW EXECUTE FUNCTION jobrunner_notice_of_user_error();
CREATE TRIGGER error_report__enqueue_notices
    AFTER INSERT ON error_report FOR EACH ROW EXECUTE FUNCTION jobrunner_notice_of_error_report();

COMMENT ON FUNCTION jobrunner_notice_of_user_error() IS 'Trigger of job_notification: a user error whose recipient is a mail address enqueues a mail job to it, in the same transaction (docs/mail-jobs.md).';
COMMENT ON FUNCTION jobrunner_notice_of_error_report() IS 'Trigger of error_report: enqueues a mail job to job_type.operator_mail and a webhook job to job_type.operator_webhook of the failed job''s type, in the same transaction; never for a job that is itself a notice (docs/mail-jobs.md).';
COMMENT ON FUNCTION jobrunner_is_mail_address(text) IS 'Whether a text is a plain mail address (local@domain, a dot-atom local part): the rule of the mail type (jobs/mail/message.cpp, is_address).';
COMMENT ON FUNCTION jobrunner_notice_job_label(bigint) IS 'How a notice names a job: "FooJob 17 (foo 5)", or "ReportJob 3" for a type without a target.';
