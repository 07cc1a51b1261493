-- Drop the jobs.updated_at trigger and its function.
DROP TRIGGER jobs_set_updated_at ON jobs;
DROP FUNCTION jobs_set_updated_at();
