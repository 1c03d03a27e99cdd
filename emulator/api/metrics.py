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
from bisect import bisect_left

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import errors
from emulator.store.async_queue import PENDING, AsyncEvent

router = APIRouter(tags=["emulator"])

FN = ("account", "service", "function", "qualifier")
TRIGGER = ("account", "service", "function", "trigger")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, float("inf"))
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, float("inf"))
OTHER_ROUTE = "other"
API_VERSION = re.compile(r"/\d{4}-\d\d-\d\d/")
MODES = ("auto", "open", "signed", "off")
# the classic text format every Prometheus reads (prometheus_client >= 0.22 calls its output 1.0.0: the same
# text for these metrics, but Prometheus 2 scrapers know 0.0.4)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Fn:
    """One function qualifier's counts: the duration histogram (per bucket, not cumulative), cold starts,
    throttles."""
    __slots__ = ("buckets", "sum", "cold", "throttles")

    def __init__(self, bounds: int):
        self.buckets = [0] * bounds
        self.sum = 0.0
        self.cold = 0
        self.throttles = 0


class _Hist:
    __slots__ = ("buckets", "sum")

    def __init__(self, bounds: int):
        self.buckets = [0] * bounds
        self.sum = 0.0


class Metrics:
    """Counts in plain dicts on the event loop (a prometheus_client Counter.inc() takes a lock and costs
    about 1.4 us; these cost a tenth of that), turned into prometheus_client metric families at scrape time."""

    def __init__(self):
        disable_created_metrics()  # no `*_created` series beside every counter: noise in a local tool
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self._inv: dict[tuple, list] = {}  # FN + (kind, status) -> [count, _Fn of FN]
        self._fn: dict[tuple, _Fn] = {}
        self._http: dict[tuple, int] = {}  # (method, route, status) -> count
        self._firings: dict[tuple, int] = {}  # (account, service, function, trigger, source) -> count
        self._lateness: dict[tuple, _Hist] = {}  # (account, service, function, trigger)

    # ---- counting (on the event loop) -----------------------------------------------------------

    def __call__(self, inv, out) -> None:
        """Invoker listener (emulator/invocation/sync.py): returns None, so it runs inline."""
        status = out.error_type or "succeeded"
        key = (inv.account, inv.service, inv.function, inv.qualifier or "LATEST", inv.kind, status)
        entry = self._inv.get(key)
        if entry is None:
            fn = self._fn.get(key[:4])
            if fn is None:
                fn = self._fn[key[:4]] = _Fn(len(DURATION_BUCKETS))
            entry = self._inv[key] = [0, fn]
        entry[0] += 1
        fn = entry[1]
        if status == "ResourceThrottled":
            fn.throttles += 1
            return
        seconds = out.duration_ms / 1000.0
        fn.buckets[bisect_left(DURATION_BUCKETS, seconds)] += 1
        fn.sum += seconds
        if out.cold:
            fn.cold += 1

    def count_http(self, method: str, route: str, status: int) -> None:
        key = (method, route, status)
        self._http[key] = self._http.get(key, 0) + 1

    def timer_fired(self, account: str, service: str, function: str, trigger: str, source: str,
                    lateness_s: float | None) -> None:
        """TimerScheduler's on_fire hook (once per firing: not the hot path)."""
        key = (account, service, function, trigger, source)
        self._firings[key] = self._firings.get(key, 0) + 1
        if lateness_s is not None:
            hist = self._lateness.get(key[:4])
            if hist is None:
                hist = self._lateness[key[:4]] = _Hist(len(LATENESS_BUCKETS))
            late = max(0.0, lateness_s)
            hist.buckets[bisect_left(LATENESS_BUCKETS, late)] += 1
            hist.sum += late

    def forget(self, accounts: set[str] | None) -> None:
        """Drop the series of reset accounts (every account's when None): reset means a clean slate."""
        for name in ("_inv", "_fn", "_firings", "_lateness"):
            table = getattr(self, name)
            setattr(self, name, {} if accounts is None else {k: v for k, v in table.items() if k[0] not in accounts})

    def _counted(self) -> list:
        """The counted series as metric families (a copy taken on the event loop)."""
        inv = CounterMetricFamily("fc_invocations", "Invocations (every attempt) by kind and outcome: status is "
                                  "'succeeded' or FC's error type", labels=FN + ("kind", "status"))
        for key, (n, _) in list(self._inv.items()):
            inv.add_metric(key, n)
        duration = HistogramMetricFamily("fc_invocation_duration_seconds", "Invocation duration as FC bills it",
                                         labels=FN)
        cold = CounterMetricFamily("fc_cold_starts", "Invocations that started a new instance", labels=FN)
        throttles = CounterMetricFamily("fc_throttles", "Invocations refused with 429 ResourceThrottled", labels=FN)
        for key, fn in list(self._fn.items()):
            duration.add_metric(key, _cumulative(DURATION_BUCKETS, fn.buckets), fn.sum)
            cold.add_metric(key, fn.cold)
            throttles.add_metric(key, fn.throttles)
        firings = CounterMetricFamily("fc_timer_firings", "Timer trigger firings by source (schedule, catch_up, "
                                      "manual, clock)", labels=TRIGGER + ("source",))
        for key, n in list(self._firings.items()):
            firings.add_metric(key, n)
        lateness = HistogramMetricFamily("fc_timer_lateness_seconds", "Seconds between a timer's scheduled moment "
                                         "and its firing (scheduled and catch-up firings)", labels=TRIGGER)
        for key, hist in list(self._lateness.items()):
            lateness.add_metric(key, _cumulative(LATENESS_BUCKETS, hist.buckets), hist.sum)
        http = CounterMetricFamily("fc_http_requests", "HTTP requests by method, route template and status",
                                   labels=("method", "route", "status"))
        for (method, route, status), n in list(self._http.items()):
            http.add_metric([method, route, str(status)], n)
        return [inv, duration, cold, throttles, firings, lateness, http]

    # ---- scrape -----------------------------------------------------------------------------------

    async def render(self, state) -> bytes:
        families = self._counted() + self._instances(state.pools)
        families += await asyncio.to_thread(self._queue, state.db)
        return generate_latest(_Scrape(self.registry, families))

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


def _cumulative(bounds: tuple, counts: list[int]) -> list[tuple[str, int]]:
    out, total = [], 0
    for bound, n in zip(bounds, counts):
        total += n
        out.append(("+Inf" if bound == float("inf") else repr(float(bound)), total))
    return out


class _Scrape:
    """The registry (process metrics) plus this scrape's families, as generate_latest reads a registry."""

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
    return Response(body, headers={"content-type": CONTENT_TYPE})
