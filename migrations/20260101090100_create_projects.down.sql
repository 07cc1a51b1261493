-- Drop the projects table, then the job_status enum (jobs is already gone by now).
DROP INDEX projects_owner_id_idx;
DROP TABLE projects;
DROP TYPE job_status;
