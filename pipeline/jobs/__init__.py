"""The batch jobs as MLflow runs, one module each: `score`, `rollup`, `report` record inputs, outputs and
counts. Each imports only what its job runs, so a report change never re-runs scoring (see dvc.yaml)."""
