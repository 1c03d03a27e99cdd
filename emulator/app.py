"""The FastAPI application: FC routers, wire middleware, error mapping, lifespan."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import anyio.to_thread

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import __version__, errors
from emulator.api import dashboard
from emulator.api import control, emulator_destinations, emulator_events, emulator_invocations, emulator_triggers
from emulator.api import emulator_control, metrics
from emulator.api.auth import authenticate_emulator
from emulator.execution.standby import Standbys
from emulator.api.front import Front
from emulator.api.invocations import InvokeFastPath
from emulator.api.proxy import CustomDomains
from emulator.api.temp_oss import OssUploads
from emulator.api.fc3 import trigger_urls
from emulator.api.fc3.trigger_urls import TriggerHosts
from emulator.api.routes import mount_fc_api
from emulator.api.fc3 import mount_fc3_api
from emulator.api.wire import WireMiddleware, error_response
from emulator.config import Settings
from emulator.execution import provision
from emulator.execution.agent import AgentClient
from emulator.execution.artifacts import Artifacts
from emulator.execution.backends.isolation import owner_marker
from emulator.execution.pool import Pools
from emulator.execution.select import make_backend
from emulator.invocation.async_worker import AsyncInvoker
from emulator.invocation.records import Recorder
from emulator.invocation.sync import Invoker
from emulator.invocation.targets import Targets
from emulator.replica import Replica
from emulator.store.code import CodeStore
from emulator.triggers.timer import TimerScheduler
from emulator.store.db import Database
from emulator.store.records import Records

log = logging.getLogger("fc_emulator")


class ErrorBarrier:
    """An unexpected exception becomes FC's 500 here, and goes no further. Starlette's own handler
    for `Exception` re-raises after answering, and uvicorn then drops the kept-alive connection
    without `Connection: close`: the client's next request on it got an empty reply."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            request = Request(scope)
            log.exception("internal error on %s %s", request.method, request.url.path)
            if started:  # half an answer went out: only closing the connection can end it
                raise
            await error_response(request, errors.internal_error())(scope, receive, send)


def create_app(settings: Settings) -> Front:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.create_all()
    code = CodeStore(settings)
    artifacts = Artifacts(settings.data_dir, code)
    backend = make_backend(settings, artifacts)
    replica = Replica(db, owner_marker(settings.data_dir), settings.base_url)  # others on this database
    live = replica.join()  # takes back what dead replicas left; live ones keep their events and instances
    backend.replica, replica.on_dead = replica.id, backend.remove_replica
    orphans = backend.cleanup_orphans(live)
    if orphans:
        log.info("removed %d instance(s) left by an earlier emulator", orphans)
    agent = AgentClient()
    standbys = Standbys(backend, agent, settings.standby, settings.standby_runtimes, settings.standby_memory_mb)
    pools = Pools(backend, agent, settings.instance_idle_timeout, settings.max_instances, standbys)
    pools.registry, replica.pools = replica, pools  # maximumInstanceCount and provisioning are function-wide

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        log.info("fc-emulator %s serving %s, data dir %s", __version__, settings.base_url, settings.data_dir)
        await pools.start()
        replica.start()
        await app.state.recorder.start()
        restored = await anyio.to_thread.run_sync(provision.restore, app.state)
        if restored:
            log.info("pre-warming %d provisioned instance(s)", restored)
        await app.state.async_invoker.start()
        app.state.timers = TimerScheduler(db, app.state.async_invoker, on_fire=app.state.metrics.timer_fired)
        await app.state.timers.start()
        replica.on_changed.append(app.state.timers.changed)  # a trigger changed through another replica
        yield
        await app.state.timers.close()
        await app.state.async_invoker.close()  # running events go back to the queue
        await app.state.recorder.stop()
        await pools.close()
        await anyio.to_thread.run_sync(replica.close)
        db.close()

    app = FastAPI(title="fc-emulator", version=__version__, lifespan=lifespan,
                  description="Alibaba Cloud Function Compute 2.0, offline.")
    app.state.settings = settings
    app.state.db = db
    app.state.code = code
    app.state.backend = backend
    app.state.replica = replica
    app.state.pools = pools
    app.state.invoker = Invoker(Targets(db, artifacts, settings), pools)
    app.state.records = Records(db)
    app.state.recorder = Recorder(app.state.records, app.state.invoker, settings.records_max_count,
                                  settings.records_max_age, settings.records_max_log_bytes)
    app.state.invoker.listeners.append(app.state.recorder)
    app.state.metrics = metrics.Metrics()  # GET /metrics; counts each invocation inline (no task per call)
    app.state.invoker.listeners.append(app.state.metrics)
    app.state.async_invoker = AsyncInvoker(db, app.state.invoker, settings)
    app.state.async_invoker.replica = replica

    @app.exception_handler(errors.FCError)
    async def _fc_error(request: Request, exc: errors.FCError):
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(request, errors.invalid_argument(f"{loc}: {first['msg']}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code in (404, 405):
            return error_response(request, errors.path_not_supported(request.method, request.url.path))
        return error_response(request, errors.FCError(exc.status_code, "InvalidArgument", str(exc.detail)))

    app.add_middleware(InvokeFastPath)
    app.add_middleware(CustomDomains)
    app.add_middleware(OssUploads)  # Serverless Devs' code upload (OSS PutObject), before custom domains
    app.add_middleware(TriggerHosts)  # FC 3.0 HTTP triggers by Host (<sub>.<region>.fcapp.run)
    app.add_middleware(ErrorBarrier)
    app.add_middleware(WireMiddleware)  # added last = outermost: it wraps the fast path too
    app.add_middleware(metrics.HttpMetrics, metrics=app.state.metrics)  # fc_http_requests_total (front.py: its own)
    app.include_router(control.router)
    app.include_router(metrics.router)  # access by --metrics (open/signed/off), checked in the route
    app.include_router(dashboard.router)  # / and /_emulator/ui (pages open), /_emulator/dashboard (signed in strict mode)
    # /_emulator/*: open in default mode, signed by a configured key in strict mode (auth.py)
    for router in (emulator_invocations.router, emulator_destinations.router, emulator_triggers.router,
                   emulator_events.router, emulator_control.router):
        app.include_router(router, dependencies=[Depends(authenticate_emulator)])
    mount_fc_api(app)
    mount_fc3_api(app)  # FC 3.0 (2023-03-30) on the same engine
    app.include_router(trigger_urls.router)  # FC 3.0 HTTP trigger URLs: /fcapp/<sub>/<path>
    return Front(app)
