"""Prometheus metrics of the API process: requests, and job counts read from the job store."""

from __future__ import annotations

import time

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from tasks import connections, jobstore

REGISTRY = CollectorRegistry()
REQUESTS = Counter("meshmill_http_requests_total", "HTTP requests", ["method", "endpoint", "status"],
                   registry=REGISTRY)
LATENCY = Histogram("meshmill_http_request_seconds", "HTTP request latency", ["method", "endpoint"],
                    registry=REGISTRY)


class JobStateCollector:
    """Jobs by domain and state, read from the database at scrape time."""

    def collect(self):
        family = GaugeMetricFamily("meshmill_jobs", "Jobs by domain and state", labels=["domain", "state"])
        dlq = GaugeMetricFamily("meshmill_dead_letters_open", "Open dead letters")
        try:
            with connections.transaction() as conn:
                rows = jobstore.count_by_state(conn)
                letters = jobstore.dead_letter_stats(conn)["open"]
        except Exception:  # a scrape must not fail because the database is down; /health says so
            return
        for domain, state, count in rows:
            family.add_metric([domain, state], count)
        dlq.add_metric([], letters)
        yield family
        yield dlq


REGISTRY.register(JobStateCollector())


def install_metrics(app: Flask) -> None:
    @app.before_request
    def _start():
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - getattr(g, "started", 0))
        return response
