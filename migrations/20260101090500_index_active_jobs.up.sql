-- no-transaction
-- Index queued/running jobs per project without locking writes (CONCURRENTLY: one statement only).
CREATE INDEX CONCURRENTLY jobs_project_id_status_active_idx
    ON jobs (project_id, status)
    WHERE status IN ('queued', 'running');
