-- Drop the results table and its index.
DROP INDEX results_job_id_idx;
DROP TABLE results;
