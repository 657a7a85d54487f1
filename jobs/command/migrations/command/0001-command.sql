-- CommandJob (jobs/command/, docs/command-jobs.md): runs one command of the
-- runner's allowlist, a file on the runner's host, never a command from the
-- row. A type without a table of its own: no target, its metadata
-- ({"command": NAME, "args": {...}}) in job.json_data, its output's tails in
-- job.log and its result in job.result (core patch 0013). Many jobs may be
-- pending at once (no one-pending rule); they do no database work of their
-- own, so their completions are written in batches.
-- requires: jobrunner 0013

SELECT jobrunner_register_type(
    name => 'command', display_name => 'CommandJob',
    max_retries => 3, retry_delay => '1 minute', lease => '5 minutes',
    one_pending => false, batch_completions => true);
