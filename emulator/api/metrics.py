"""`GET /metrics`: the emulator's state in Prometheus' text format (prometheus_client).

Counted as things happen (all on the event loop, a few dict look-ups and increments per call: the
warm invoke path is the hot path):
- fc_invocations_total, fc_invocation_duration_seconds, fc_cold_starts_total, fc_throttles_total:
  an Invoker listener, called inline (it returns no coroutine, so no task per call);
- fc_timer_firings_total, fc_timer_lateness_seconds: the timer scheduler's `on_fire` hook;
- fc_http_requests_total: `HttpMetrics` around the FastAPI app, plus one line in front.py for the
  InvokeFunction fast path. The route label is the route's template (`/2016-08-15/services/{service}`),
  never the raw path, so the number of series stays bounded; requests no route matched (custom domains,
  FC 3.0 trigger hosts, 404s) count as route "other".
Read at scrape time: fc_instances (the pools), fc_standby_instances, fc_async_queue_depth and
fc_async_queue_oldest_age_seconds (one grouped query on the queue table).

Access (`--metrics`): open (Prometheus scrapers don't sign), signed (an FC signature by a configured
key, like /_emulator in strict mode), off (404); auto = open, or signed with --auth strict.
"""
from __future__ import annotations

import asyncio
import dataclasses
import re
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, disable_created_metrics,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import errors
from emulator.store.async_queue import PENDING, AsyncEvent

router = APIRouter(tags=["emulator"])

FN = ("account", "service", "function", "qualifier")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, float("inf"))
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, float("inf"))
OTHER_ROUTE = "other"
API_VERSION = re.compile(r"/\d{4}-\d\d-\d\d/")
MODES = ("auto", "open", "signed", "off")


class Metrics:
    def __init__(self):
        disable_created_metrics()  # no `*_created` series beside every counter: noise in a local tool
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.invocations = Counter("fc_invocations", "Invocations (every attempt) by kind and outcome: status is "
                                   "'succeeded' or FC's error type", FN + ("kind", "status"), registry=r)
        self.duration = Histogram("fc_invocation_duration_seconds", "Invocation duration as FC bills it",
                                  FN, buckets=DURATION_BUCKETS, registry=r)
        self.cold = Counter("fc_cold_starts", "Invocations that started a new instance", FN, registry=r)
        self.throttles = Counter("fc_throttles", "Invocations refused with 429 ResourceThrottled", FN, registry=r)
        self.firings = Counter("fc_timer_firings", "Timer trigger firings by source (schedule, catch_up, manual, "
                               "clock)", ("account", "service", "function", "trigger", "source"), registry=r)
        self.lateness = Histogram("fc_timer_lateness_seconds", "Seconds between a timer's scheduled moment and its "
                                  "firing (scheduled and catch-up firings)", ("account", "service", "function",
                                                                              "trigger"),
                                  buckets=LATENESS_BUCKETS, registry=r)
        self.http = Counter("fc_http_requests", "HTTP requests by method, route template and status",
                            ("method", "route", "status"), registry=r)
        ProcessCollector(registry=r)
        # label values -> child: prometheus_client's labels() takes a lock and checks every value; this
        # dict is the hot path's only look-up once a series exists
        self._inv: dict[tuple, tuple] = {}
        self._http: dict[tuple, object] = {}

    # ---- counting (on the event loop) -----------------------------------------------------------

    def __call__(self, inv, out) -> None:
        """Invoker listener (emulator/invocation/sync.py): returns None, so it runs inline."""
        status = out.error_type or "succeeded"
        key = (inv.account, inv.service, inv.function, inv.qualifier or "LATEST", inv.kind, status)
        children = self._inv.get(key)
        if children is None:
            fn = key[:4]
            children = self._inv[key] = (self.invocations.labels(*key), self.duration.labels(*fn),
                                         self.cold.labels(*fn), self.throttles.labels(*fn))
        children[0].inc()
        if status == "ResourceThrottled":
            children[3].inc()
            return
        children[1].observe(out.duration_ms / 1000.0)
        if out.cold:
            children[2].inc()

    def count_http(self, method: str, route: str, status: int) -> None:
        key = (method, route, status)
        child = self._http.get(key)
        if child is None:
            child = self._http[key] = self.http.labels(method, route, str(status))
        child.inc()

    def timer_fired(self, account: str, service: str, function: str, trigger: str, source: str,
                    lateness_s: float | None) -> None:
        """TimerScheduler's on_fire hook (once per firing: not the hot path)."""
        self.firings.labels(account, service, function, trigger, source).inc()
        if lateness_s is not None:
            self.lateness.labels(account, service, function, trigger).observe(max(0.0, lateness_s))

    def forget(self, accounts: set[str] | None) -> None:
        """Drop the series of reset accounts (every series when None): reset means a clean slate."""
        def gone(account: str) -> bool:
            return accounts is None or account in accounts
        for metric in (self.invocations, self.duration, self.cold, self.throttles, self.firings, self.lateness):
            for labels in list(metric._metrics):  # noqa: SLF001 - prometheus_client keeps children there
                if gone(labels[0]):
                    try:
                        metric.remove(*labels)
                    except KeyError:
                        pass
        self._inv = {k: v for k, v in self._inv.items() if not gone(k[0])}

    # ---- scrape -----------------------------------------------------------------------------------

    async def render(self, state) -> bytes:
        gauges = self._instances(state.pools)
        gauges += await asyncio.to_thread(self._queue, state.db)
        return generate_latest(_Scrape(self.registry, gauges))

    @staticmethod
    def _instances(pools) -> list:
        live = GaugeMetricFamily("fc_instances", "Live instances by function version and state (starting, busy, "
                                 "idle)", labels=("account", "service", "function", "version", "state"))
        for key, pool in list(pools.pools.items()):
            counts = {"starting": 0, "busy": 0, "idle": 0}
            for inst in list(pool.instances):
                if not inst.alive or inst.retired:
                    continue
                state = "starting" if not inst.ready.is_set() else "busy" if inst.inflight else "idle"
                counts[state] += 1
            for state, n in counts.items():
                if n:
                    live.add_metric([*key, state], n)
        standby = GaugeMetricFamily("fc_standby_instances", "Pre-started standby instances (no function yet)")
        standby.add_metric([], pools.standbys.status()["instances"] if pools.standbys else 0)
        return [live, standby]

    @staticmethod
    def _queue(db) -> list:
        depth = GaugeMetricFamily("fc_async_queue_depth", "Async events not finished, by status (Enqueued includes "
                                  "retries waiting for their back-off)", labels=("account", "status"))
        age = GaugeMetricFamily("fc_async_queue_oldest_age_seconds", "Age of the oldest unfinished async event",
                                labels=("account",))
        now = time.time()
        with db.read() as s:
            rows = s.execute(select(AsyncEvent.account_id, AsyncEvent.status, func.count(),
                                    func.min(AsyncEvent.enqueued_at))
                             .where(AsyncEvent.status.in_(PENDING))
                             .group_by(AsyncEvent.account_id, AsyncEvent.status)).all()
        oldest: dict[str, float] = {}
        for account, status, n, first in rows:
            depth.add_metric([account, status], n)
            oldest[account] = min(oldest.get(account, first), first)
        for account, first in oldest.items():
            age.add_metric([account], max(0.0, now - first))
        return [depth, age]


class _Scrape:
    """The registry plus this scrape's gauges, as generate_latest reads a registry."""

    def __init__(self, registry: CollectorRegistry, extra: list):
        self.registry, self.extra = registry, extra

    def collect(self):
        yield from self.registry.collect()
        yield from self.extra


class HttpMetrics:
    """fc_http_requests_total for everything the FastAPI app serves (outermost layer of the app)."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.metrics.count_http(scope["method"], route_template(scope), status)


def route_template(scope: Scope) -> str:
    """The matched route's template with its API version (`/2016-08-15/services/{service}`), else "other".
    Routers included under a prefix may carry their own path only (FastAPI >= 0.1xx keeps the original
    route): the version is the path's first segment then, and only mounted versions match a route."""
    template = getattr(scope.get("route"), "path", None)
    if not template:
        return OTHER_ROUTE
    path = scope["path"]
    if API_VERSION.match(path) and not template.startswith(path[:11]):
        return path[:11] + template
    return template


def resolve_mode(mode: str, strict: bool) -> str:
    if mode not in MODES:
        raise ValueError(f"--metrics must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        return "signed" if strict else "open"
    return mode


async def _check_access(request: Request) -> None:
    settings = request.app.state.settings
    mode = resolve_mode(settings.metrics, settings.strict_auth)
    if mode == "off":
        raise errors.path_not_supported(request.method, request.url.path)
    if mode == "signed":
        from emulator.api.auth import verify
        # a configured key's signature even in default mode (where verify lets unsigned requests through)
        strict = dataclasses.replace(settings, auth="strict") if not settings.strict_auth else settings
        key_id = await verify(request, strict)
        if key_id is None or key_id not in settings.access_keys:
            raise errors.FCError(403, "InvalidAccessKeyID", "/metrics needs a signature by a configured key "
                                                            "(--metrics signed)")


@router.get("/metrics")
async def metrics(request: Request):
    await _check_access(request)
    body = await request.app.state.metrics.render(request.app.state)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
