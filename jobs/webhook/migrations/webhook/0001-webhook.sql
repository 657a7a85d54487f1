-- WebhookJob: delivers a JSON body to an endpoint of its runner's allowlist
-- (jobs/webhook/webhook_job.hpp, docs/webhook-jobs.md). A job type without a
-- table of its own: no target, its metadata ({"endpoint": ..., "body": ...})
-- in job.json_data, and any number pending (one_pending false). Its retries
-- back off (patch 0014): 10s, 20s, 40s, ... up to 1 hour, each wait between
-- half and all of that, never sooner than the receiver's Retry-After.
-- requires: jobrunner 0014

SELECT jobrunner_register_type(
    name => 'webhook', display_name => 'WebhookJob',
    max_retries => 10, retry_delay => '10 seconds', lease => '5 minutes',
    one_pending => false, batch_completions => false,
    retry_backoff => true, max_retry_delay => '1 hour');
