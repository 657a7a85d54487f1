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

-- name: job_type_notices_get
-- Who hears of the error reports of type $1 (patch 0016): the operators'
-- addresses as a JSON array, and the webhook endpoint or NULL. No row for
-- an unknown type.
SELECT array_to_json(t.operator_mail)::text AS operator_mail, t.operator_webhook
FROM job_type AS t
WHERE t.name = $1

-- name: job_type_notices_set
-- Sets them through jobrunner_set_type_notices(), which checks them (22023
-- a malformed address or endpoint name, 42704 an unknown type): $2 the
-- addresses as a JSON array, $3 the endpoint or NULL.
SELECT jobrunner_set_type_notices($1, ARRAY(SELECT json_array_elements_text($2::json)), $3::text)
