-- COMMENTs for the columns that 0001 and 0002 left without one.

COMMENT ON COLUMN job.id IS 'The job''s number, shown by jobctl and in logs.';
COMMENT ON COLUMN error_report.id IS 'The report''s number, shown as OOPS-<id>.';
COMMENT ON COLUMN error_report.date_created IS 'When the report was filed.';
COMMENT ON COLUMN job_notification.id IS 'The notice''s number.';
COMMENT ON COLUMN job_notification.job IS 'The job that failed with a user error.';
COMMENT ON COLUMN job_notification.date_created IS 'When the notice was recorded.';
COMMENT ON COLUMN runner_run.id IS 'The run''s number.';
COMMENT ON COLUMN runner_run.date_started IS 'When the run started.';
COMMENT ON COLUMN foo.id IS 'The foo''s number; foojob.foo references it.';
COMMENT ON COLUMN foo.date_created IS 'When the foo was created.';
COMMENT ON COLUMN foojob.id IS 'The FooJob''s own number (the job''s is foojob.job).';
COMMENT ON COLUMN foo_frozzle.id IS 'The frozzle''s number.';
COMMENT ON COLUMN foo_frozzle.date_created IS 'When the frozzle was made (the job''s commit).';
