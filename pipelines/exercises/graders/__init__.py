"""Hidden grader tests, one folder per exercise; copied to a temporary folder to run."""
