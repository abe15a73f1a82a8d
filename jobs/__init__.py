"""RQ entry points: thin functions that take ids, use the process's runtime, and are idempotent."""
