"""The FastAPI app serving the champion: contract-derived schemas, hot swap, prediction log."""
