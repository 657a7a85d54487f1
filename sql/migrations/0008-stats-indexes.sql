-- jobctl stats without reading the whole job table (issue 9): the depth of
-- every unfinished status comes from a partial index that holds only the
-- jobs in that status. WAITING has job__ready__idx and RUNNING
-- job__running__lease_expires__idx (0001); SUSPENDED had none, so counting
-- SUSPENDED jobs scanned every finished one. Finished jobs are counted over a
-- recent window through job__date_finished__idx (0001).
CREATE INDEX job__suspended__idx ON job (job_type) WHERE status = 4;
