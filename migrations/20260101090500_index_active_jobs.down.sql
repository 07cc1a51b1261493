-- no-transaction
-- Drop the active-jobs index without locking writes (CONCURRENTLY: one statement only).
DROP INDEX CONCURRENTLY IF EXISTS jobs_project_id_status_active_idx;
