"""Scripts that measure the project: data realism and serving throughput against MLflow's."""
