"""PostgreSQL persistence: models, Alembic migrations, day partitions of runs, repositories."""
