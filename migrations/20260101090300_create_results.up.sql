-- Create the results table: output and timing of a finished job.
CREATE TABLE results (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    output      text,
    duration_ms integer CHECK (duration_ms >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX results_job_id_idx ON results (job_id);
