"""The dashboard (/_emulator/ui) driven in headless Chromium: Debian's /usr/bin/chromium through Playwright's
Python package (`executable_path`: no browser download). Functions are deployed with the SDKs, everything
else is done on the page: list, select, invoke, see the record and its log, fire a timer, put an event.

Without a Chromium the tests skip; with CI=true they fail (scripts/test installs Debian's chromium as root).
FC_EMULATOR_DASHBOARD_SCREENSHOT=docs/dashboard.png saves the README's screenshot of the page.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, ROOT, Server, deploy, fc_client, make_zip

CHROMIUM = os.environ.get("FC_EMULATOR_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 60_000

HANDLER = (
    "import json, time\n"
    "def handler(event, context):\n"
    "    data = json.loads(event or b'{}')\n"
    "    print('dashboard log line for', data.get('name') or data.get('triggerName'), flush=True)\n"
    "    time.sleep(data.get('sleep', 0))\n"
    "    return 'hello ' + str(data.get('name') or data.get('payload'))\n")


def _browser_problem() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser():
    problem = _browser_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the dashboard tests need a browser: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        # root (CI, containers) cannot use Chromium's sandbox; the page only talks to 127.0.0.1
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _page(browser):
    from playwright.sync_api import expect
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return context, page


def _fc3_function(server: Server, account: str, name: str) -> None:
    """An FC 3.0 function with a Timer trigger, through FC 3.0's Python SDK."""
    from alibabacloud_fc20230330 import models as m
    from alibabacloud_fc20230330.client import Client
    from alibabacloud_tea_openapi.models import Config

    class AccountClient(Client):
        def call_api(self, params, request, runtime):
            request.headers = {**(request.headers or {}), "x-fc-account-id": account}
            return super().call_api(params, request, runtime)

    import base64
    c3 = AccountClient(Config(endpoint=f"127.0.0.1:{server.port}", protocol="http", access_key_id=AK_ID,
                              access_key_secret=AK_SECRET, region_id="cn-hangzhou", read_timeout=60000))
    code = base64.b64encode(make_zip({"index.py": HANDLER})).decode()
    c3.create_function(m.CreateFunctionRequest(body=m.CreateFunctionInput(
        function_name=name, runtime="python3.10", handler="index.handler", memory_size=128, timeout=10,
        code=m.InputCodeLocation(zip_file=code))))
    c3.create_trigger(name, m.CreateTriggerRequest(body=m.CreateTriggerInput(
        trigger_name="nightly", trigger_type="timer",
        trigger_config=json.dumps({"cronExpression": "0 30 2 * * *", "enable": True, "payload": "night"}))))


def _wait_record(page, request_id: str):
    """The records table's row of `request_id`, once the record is written."""
    from playwright.sync_api import expect
    row = page.locator(f'#records tr[data-request-id="{request_id}"]').first
    expect(row).to_be_visible()
    return row


def test_dashboard_deploy_list_invoke_fire(backend, browser, tmp_path):
    from playwright.sync_api import expect
    server = Server(tmp_path / "fc", "--executor", backend, "--instance-idle-timeout", "60",
                    "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    try:
        account = "1234567890123456"  # the page shows the emulator's default account
        fc = fc_client(server, account)
        deploy(fc, tmp_path, {"index.py": HANDLER}, service="demo", name="hello")
        fc.create_trigger("demo", "hello", "morning", "timer",
                          {"cronExpression": "0 0 9 * * *", "enable": True, "payload": "tick"}, "", "")
        fc.create_trigger("demo", "hello", "web", "http", {"authType": "anonymous", "methods": ["GET"]}, "", "")
        _fc3_function(server, account, "fn3")

        context, page = _page(browser)
        page.goto(server.url + "/")
        page.get_by_role("link", name="Dashboard").click()
        expect(page).to_have_url(re.compile(r"/_emulator/ui$"))
        expect(page.locator("#auth-mode")).to_have_text("auth: default")

        # listed: the FC 2.0 service and function, and the FC 3.0 function under its own name
        hello = page.locator('[data-function="fc2:demo/hello"]')
        expect(hello).to_contain_text("python3.10")
        expect(page.locator('[data-service="demo"]')).to_contain_text("hello")
        expect(page.locator('[data-service="fc3"]')).to_contain_text("FC 3.0 functions")
        expect(page.locator('[data-function="fc3:fn3"]')).to_contain_text("fn3")
        assert "fc3:" not in page.locator("#services").inner_text()

        # configuration and triggers, with the timer's next firing (09:00:00 UTC)
        hello.click()
        expect(page.locator("#fn-title")).to_contain_text("demo / hello")
        expect(page.locator("#fn-config")).to_contain_text("index.handler")
        expect(page.locator('#fn-triggers tr[data-trigger="morning"] .next-fire')).to_contain_text("09:00:00 UTC")
        expect(page.locator('#fn-triggers tr[data-trigger="web"]')).to_contain_text(
            f"{server.url}/2016-08-15/proxy/demo.LATEST/hello/")
        expect(page.locator("#fn-instances")).to_contain_text("no live instances")

        # invoke from the page: the response, the log tail, then the record (cold) with its log
        page.locator("#invoke-payload").fill('{"name": "from-the-page"}')
        page.locator("#invoke-button").click()
        expect(page.locator("#invoke-body")).to_have_text("hello from-the-page")
        expect(page.locator("#invoke-log")).to_contain_text("dashboard log line for from-the-page")
        request_id = page.locator("#invoke-request-id").inner_text()
        assert re.fullmatch(r"[0-9a-f-]{36}", request_id), request_id
        row = _wait_record(page, request_id)
        expect(row.locator(".status")).to_have_text("succeeded")
        expect(row).to_contain_text("cold")
        expect(row).to_contain_text("demo/hello")
        expect(page.locator("#tail")).to_contain_text("dashboard log line for from-the-page")
        row.click()
        expect(page.locator("#record-log")).to_contain_text("dashboard log line for from-the-page")
        expect(page.locator("#record-kv")).to_contain_text('{"name": "from-the-page"}')
        # the instance that ran it is live (refreshed without a reload)
        expect(page.locator("#fn-instances tbody tr[data-instance]")).to_have_count(1)

        # a second call is warm
        page.locator("#invoke-payload").fill('{"name": "again"}')
        page.locator("#invoke-button").click()
        expect(page.locator("#invoke-body")).to_have_text("hello again")
        expect(_wait_record(page, page.locator("#invoke-request-id").inner_text())).to_contain_text("warm")

        # an async call that runs for a while: its log shows while it runs, then its record
        page.locator("input[name=invoke-type][value=Async]").check()
        page.locator("#invoke-payload").fill('{"name": "slow", "sleep": 5}')
        page.locator("#invoke-button").click()
        expect(page.locator("#invoke-status")).to_contain_text("202")
        slow = page.locator("#invoke-request-id").inner_text()
        expect(page.locator("#running")).to_contain_text(f"{slow} running on")
        expect(page.locator("#running")).to_contain_text("dashboard log line for slow")
        assert page.locator(f'#records tr[data-request-id="{slow}"]').count() == 0  # no record yet: still running
        expect(_wait_record(page, slow)).to_contain_text("async")
        expect(page.locator("#running-box")).to_be_hidden()
        page.locator("input[name=invoke-type][value=Sync]").check()

        # fire the timer: its async invocation shows with FC's timer event and its log
        page.locator('#fn-triggers tr[data-trigger="morning"] button.fire').click()
        expect(page.locator("#fire-request-id")).to_have_text(re.compile(r"[0-9a-f-]{36}"))
        fired = page.locator("#fire-request-id").inner_text()
        row = _wait_record(page, fired)
        expect(row).to_contain_text("async")
        expect(row.locator(".status")).to_have_text("succeeded")
        row.click()
        expect(page.locator("#record-log")).to_contain_text("dashboard log line for morning")
        expect(page.locator("#record-kv")).to_contain_text('"triggerName": "morning"')
        expect(page.locator("#tail")).to_contain_text("dashboard log line for morning")
        expect(page.locator(f'#queue tr[data-request-id="{fired}"]')).to_contain_text("Succeeded")

        # the FC 3.0 function: configuration, its timer fired, invoked through FC 3.0's API
        page.locator('[data-function="fc3:fn3"]').click()
        expect(page.locator("#fn-title")).to_contain_text("fn3")
        expect(page.locator("#fn-title")).to_contain_text("FC 3.0 function")
        expect(page.locator('#fn-triggers tr[data-trigger="nightly"] .next-fire')).to_contain_text("02:30:00 UTC")
        page.locator("#invoke-payload").fill('{"name": "fc3"}')
        page.locator("#invoke-button").click()
        expect(page.locator("#invoke-body")).to_have_text("hello fc3")
        expect(_wait_record(page, page.locator("#invoke-request-id").inner_text())).to_contain_text("fn3 (FC 3.0)")
        page.locator('#fn-triggers tr[data-trigger="nightly"] button.fire').click()
        expect(page.locator("#fire-request-id")).to_have_text(re.compile(r"[0-9a-f-]{36}"))
        expect(_wait_record(page, page.locator("#fire-request-id").inner_text()).locator(".status")).to_have_text(
            "succeeded")
        page.locator("#only-selected").check()
        expect(page.locator("#records")).not_to_contain_text("demo/hello")

        # put an event: no OSS trigger in the account, so nothing matches (and the answer says so)
        page.locator("#event-source").select_option("oss")
        page.locator("#event-form button[type=submit]").click()
        expect(page.locator("#event-status")).to_have_text("0 trigger(s) fired")
        expect(page.locator("#event-result")).to_contain_text('"source": "oss"')
        expect(page.locator("#error")).to_be_hidden()

        page.locator("#only-selected").uncheck()
        page.locator('[data-function="fc2:demo/hello"]').click()
        expect(page.locator("#invoke-result")).to_be_hidden()  # fn3's answer is not shown for demo/hello
        page.locator("#invoke-payload").fill('{"name": "dashboard"}')
        page.locator("#invoke-button").click()
        expect(page.locator("#invoke-body")).to_have_text("hello dashboard")
        _wait_record(page, page.locator("#invoke-request-id").inner_text()).click()
        expect(page.locator("#record-log")).to_contain_text("dashboard log line for dashboard")
        page.evaluate("window.scrollTo(0, 0)")
        shot = os.environ.get("FC_EMULATOR_DASHBOARD_SCREENSHOT")
        page.screenshot(path=str(ROOT / shot) if shot else str(tmp_path / "dashboard.png"), full_page=True)

        # the account's virtual timer clock (test control) moves the next firing a day on
        before = page.locator('#fn-triggers tr[data-trigger="morning"] .next-fire').inner_text()
        r = requests.post(server.url + "/_emulator/clock/advance?by=1d&wait=true", timeout=120)
        assert r.status_code == 200, r.text
        expect(page.locator("#timer-clock")).to_contain_text("virtual timer clock")
        after = page.locator('#fn-triggers tr[data-trigger="morning"] .next-fire')
        expect(after).not_to_have_text(before)
        expect(after).to_contain_text("09:00:00 UTC")
        context.close()
    finally:
        server.stop()


def test_dashboard_strict_mode_signs_in_the_browser(browser, tmp_path):
    """--auth strict: the page asks for a key, refuses a wrong one, then signs every request (FC scheme)."""
    from playwright.sync_api import expect
    server = Server(tmp_path / "fc", "--executor", "process", "--auth", "strict",
                    "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    try:
        fc = fc_client(server, "1234567890123456")
        deploy(fc, tmp_path, {"index.py": HANDLER}, service="locked", name="fn")
        # the data needs a signature; the page itself holds none
        r = requests.get(server.url + "/_emulator/dashboard", timeout=10)
        assert r.status_code == 403 and r.json()["ErrorCode"] == "AccessDenied"
        assert requests.get(server.url + "/_emulator/ui", timeout=10).status_code == 200

        context, page = _page(browser)
        page.goto(server.url + "/_emulator/ui")
        expect(page.locator("#auth-mode")).to_have_text("auth: strict")
        expect(page.locator("#login")).to_be_visible()
        page.locator("#key-id").fill(AK_ID)
        page.locator("#key-secret").fill("wrong-secret")
        page.locator("#login-form button[type=submit]").click()
        expect(page.locator("#login-error")).to_contain_text("SignatureNotMatch")
        page.locator("#key-secret").fill(AK_SECRET)
        page.locator("#login-form button[type=submit]").click()
        expect(page.locator("#login")).to_be_hidden()
        expect(page.locator("#key-button")).to_have_text(f"Key: {AK_ID}")

        page.locator('[data-function="fc2:locked/fn"]').click()
        page.locator("#invoke-payload").fill('{"name": "signed"}')
        page.locator("#invoke-button").click()
        expect(page.locator("#invoke-body")).to_have_text("hello signed")
        row = _wait_record(page, page.locator("#invoke-request-id").inner_text())
        expect(row.locator(".status")).to_have_text("succeeded")
        expect(page.locator("#tail")).to_contain_text("dashboard log line for signed")
        expect(page.locator("#error")).to_be_hidden()

        # the plain SHA-256/HMAC that signs where WebCrypto is missing (http on a non-local host) agrees with
        # WebCrypto and with Python's hmac
        cases = [["", ""], [AK_SECRET, "GET\n\n\n\nx-fc-date:x\n/_emulator/dashboard"], ["k" * 100, "é" * 300]]
        got = page.evaluate("""async (cases) => Promise.all(cases.map(async ([k, m]) => {
            const enc = new TextEncoder();
            const plain = btoa(String.fromCharCode(...hmacSha256(enc.encode(k), enc.encode(m))));
            return [plain, await hmacBase64(k, m)];
        }))""", cases)
        import base64, hashlib, hmac
        want = [base64.b64encode(hmac.new(k.encode(), m.encode(), hashlib.sha256).digest()).decode() for k, m in cases]
        assert got == [[w, w] for w in want]
        context.close()
    finally:
        server.stop()
