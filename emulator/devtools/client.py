"""The HTTP client of `fc-emulator invoke` and `deploy`: FC's REST API of a running emulator, signed with FC's
scheme when a key is set (records_cli.sign; the FC 3.0 API accepts that scheme too), in the account given
(X-Fc-Account-Id) or the emulator's own."""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
from dataclasses import dataclass

from emulator import records_cli

FC2 = "/2016-08-15"
FC3 = "/2023-03-30"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"{}")


def add_flags(p: argparse.ArgumentParser, env) -> None:
    p.add_argument("--url", "--endpoint", dest="url", default=records_cli.default_url(),
                   help="the emulator [FC_EMULATOR_URL, else http://127.0.0.1:$FC_EMULATOR_PORT]")
    records_cli.add_key_flag(p)
    p.add_argument("--account-id", default=env("ACCOUNT_ID"),
                   help="the account to act in; default: the emulator's [FC_EMULATOR_ACCOUNT_ID]")


class Client:
    def __init__(self, args: argparse.Namespace, timeout: float = 120):
        import requests

        self.url = args.url.rstrip("/")
        self.account = getattr(args, "account_id", None) or ""
        try:
            self.key = records_cli.access_key(args)
        except records_cli.ApiError as exc:
            raise ApiError(0, "InvalidArgument", str(exc)) from None
        self.timeout = timeout
        self.session = requests.Session()

    def request(self, method: str, path: str, *, body=None, data: bytes | None = None,
                headers: dict | None = None, params: dict | None = None, ok=(200, 201, 202, 204)) -> Response:
        """One call; FC's error (either API version's shape) raised as ApiError unless its status is in `ok`."""
        import requests

        headers = dict(headers or {})
        if self.account:
            headers["X-Fc-Account-Id"] = self.account
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if data is not None:
            headers.setdefault("Content-Type", "application/octet-stream")
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
        url = self.url + path
        if self.key:
            records_cli.sign(method, url, headers, self.key)
        try:
            r = self.session.request(method, url, data=data, headers=headers, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ApiError(0, "Unreachable", f"cannot reach the emulator at {self.url}: {exc}") from None
        resp = Response(r.status_code, dict(r.headers), r.content)
        if r.status_code not in ok and r.status_code >= 400:
            try:
                err = r.json()
                raise ApiError(r.status_code, err.get("ErrorCode") or err.get("Code") or "Error",
                               err.get("ErrorMessage") or err.get("Message") or "")
            except ValueError:
                raise ApiError(r.status_code, "Error", r.text[:300]) from None
        return resp

    def close(self) -> None:
        self.session.close()
