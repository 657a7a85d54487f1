-- Named statements of the job type registry (table job_type, patch 0010):
-- src/pg/registry.cpp runs each by its name. Same format as job.sql.

-- name: job_type_list
-- Every registered type in name order, or only type $1 when it is given.
-- Intervals as milliseconds; a type without a table of its own has NULL
-- type_table, target_column, target_table and type_code.
SELECT t.name, t.display_name, t.type_table, t.target_column, t.target_table, t.type_code,
       t.max_retries,
       (extract(epoch FROM t.retry_delay) * 1000)::bigint AS retry_delay_ms,
       t.retry_backoff,
       (extract(epoch FROM t.max_retry_delay) * 1000)::bigint AS max_retry_delay_ms,
       (extract(epoch FROM t.lease) * 1000)::bigint AS lease_ms,
       t.one_pending, t.batch_completions, t.package
FROM job_type AS t
WHERE $1::text IS NULL OR t.name = $1::text
ORDER BY t.name
