-- MailJob: sends one mail through its runner's SMTP relay
-- (jobs/mail/mail_job.hpp, docs/mail-jobs.md). A job type without a table of
-- its own: no target, its metadata ({"to": ..., "subject": ..., "body": ...})
-- in job.json_data, and any number pending (one_pending false). Its jobs do
-- no database work of their own, so their completions are written in
-- batches. Its retries back off (patch 0014): 30s, 1m, 2m, ... up to 1 hour,
-- each wait between half and all of that: a relay that is down means a
-- retry, and twelve retries span about 4 to 8 hours.
-- Core patch 0016 (its triggers) enqueues mail jobs as notices once this
-- type is registered.
-- requires: jobrunner 0014

SELECT jobrunner_register_type(
    name => 'mail', display_name => 'MailJob',
    max_retries => 12, retry_delay => '30 seconds', lease => '5 minutes',
    one_pending => false, batch_completions => true,
    retry_backoff => true, max_retry_delay => '1 hour');
