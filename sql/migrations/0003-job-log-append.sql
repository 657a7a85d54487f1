-- One definition of how a line is added to job.log: a UTC timestamp, the line,
-- and only the newest max_chars characters kept, so the log stays bounded.

CREATE FUNCTION job_log_append(log text, line text, max_chars integer) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT right(concat_ws(E'\n', log,
                 to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z "') || line),
                 max_chars)
$$;

COMMENT ON FUNCTION job_log_append(text, text, integer) IS 'Appends a timestamped line to a job''s log, keeping its newest max_chars characters.';
