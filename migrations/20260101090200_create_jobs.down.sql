-- Drop the jobs table and its index.
DROP INDEX jobs_project_id_idx;
DROP TABLE jobs;
