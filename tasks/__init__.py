"""Celery tasks and the services they use: job store, storage, webhooks, dead letters."""
