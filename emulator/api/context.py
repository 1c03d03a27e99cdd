"""What every FC API handler gets: the authenticated caller, the settings and the database."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request

from emulator.api.auth import Caller, authenticate
from emulator.config import Settings
from emulator.store.db import Database


@dataclass
class Ctx:
    request: Request
    caller: Caller
    settings: Settings
    db: Database

    @property
    def account(self) -> str:
        return self.caller.account_id


def fc_ctx(request: Request, caller: Caller = Depends(authenticate)) -> Ctx:
    return Ctx(request=request, caller=caller, settings=request.app.state.settings, db=request.app.state.db)
