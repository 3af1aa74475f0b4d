-- T0+30: the posterior decision beside the T0 one, and the calibration ledger.
-- runs.posterior: the posterior decision's headline (recommendation, confidence, verdict probabilities, the T0
-- verdict it replaced, when it was ready); NULL until observations were scored. The gate, the results and finalize
-- read it, so they answer the same final recommendation.
ALTER TABLE runs ADD COLUMN posterior jsonb;

-- Where each observation fell in its run's T0 forecast (predictive percentile, "pit"). No foreign key: the ledger
-- measures SMVM and outlives the retention purge of the runs it scored (it holds a metric, a value and a
-- percentile, never the idea); erasing a project deletes its rows (smvm.privacy).
CREATE TABLE calibration_records (
    run_id       text NOT NULL,
    project_id   text NOT NULL,
    domain       text NOT NULL,
    metric       text NOT NULL,
    window_days  integer NOT NULL,
    observed     double precision NOT NULL,
    pit          double precision NOT NULL CHECK (pit >= 0 AND pit <= 1),
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, metric)
);
CREATE INDEX calibration_records_domain ON calibration_records (domain);
