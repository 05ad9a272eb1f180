"""Pure geometry pipelines: bytes or arrays in, results out, a progress callback.

Nothing here imports Celery, Flask, SQLAlchemy, boto3 or reads the environment.
"""
