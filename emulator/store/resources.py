"""FC's resources in one table, keyed by (account, kind, parent, name).

Every FC resource obeys the same rules (fc-api.md §4, §8): unique names under a parent,
byte-ordered pagination, an Etag and timestamps bumped on every change. Keeping them in one
table lets one repository implement those rules once. The resource's fields live in `body`.

kind            parent            name
service         ""                serviceName
function        svc               functionName
trigger         svc/fn            triggerName
version         svc               versionId (decimal string)
alias           svc               aliasName
custom_domain   ""                domainName
layer           ""                layerName          (bookkeeping: last version number)
layer_version   layerName         version (decimal string)
on_demand       ""                resource           services/{svc}.{q}/functions/{fn}
provision       ""                resource           {uid}#{svc}#{q}#{fn}
async_config    svc/fn            qualifier
event_source    svc/fn/qualifier  sourceArn          (body keeps _functionId: a recreated function has none)
vpc_binding     svc               vpcId              (body keeps _serviceId: a recreated service has none)
counter         scope             name               (never-reused id sequences)
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from emulator.errors import FCError
from emulator.store.db import Base, byte_ordered


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(dt: datetime) -> str:
    """FC's timestamp form: 2020-04-01T08:14:58Z (UTC)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_etag() -> str:
    return uuid.uuid4().hex


class ResourceRow(Base):
    __tablename__ = "resources"
    __table_args__ = (UniqueConstraint("account_id", "kind", "parent", "name", name="uq_resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    parent: Mapped[str] = mapped_column(**byte_ordered(512), default="")
    name: Mapped[str] = mapped_column(**byte_ordered(512))
    body: Mapped[dict] = mapped_column(JSON)
    etag: Mapped[str] = mapped_column(String(32))
    created_time: Mapped[datetime] = mapped_column(DateTime)
    last_modified_time: Mapped[datetime] = mapped_column(DateTime)

    def out(self, created: str = "createdTime", modified: str | None = "lastModifiedTime") -> dict[str, Any]:
        """The body as FC shows it, with the timestamps under FC's names for this kind."""
        data = {k: v for k, v in self.body.items() if not k.startswith("_")}  # "_x": bookkeeping
        data[created] = iso(self.created_time)
        if modified:
            data[modified] = iso(self.last_modified_time)
        return data


@dataclass
class Page:
    """FC's list parameters (fc-api.md §4). Empty strings mean unset."""
    limit: int = 20
    next_token: str = ""
    prefix: str = ""
    start_key: str = ""


def get(s: Session, account: str, kind: str, parent: str, name: str) -> ResourceRow | None:
    return s.scalar(select(ResourceRow).where(
        ResourceRow.account_id == account, ResourceRow.kind == kind,
        ResourceRow.parent == parent, ResourceRow.name == name))


def require(s: Session, account: str, kind: str, parent: str, name: str,
            missing: Callable[[], FCError]) -> ResourceRow:
    row = get(s, account, kind, parent, name)
    if row is None:
        raise missing()
    return row


def insert(s: Session, account: str, kind: str, parent: str, name: str, body: dict,
           conflict: Callable[[], FCError]) -> ResourceRow:
    if get(s, account, kind, parent, name) is not None:
        raise conflict()
    now = utcnow()
    row = ResourceRow(account_id=account, kind=kind, parent=parent, name=name, body=body,
                      etag=new_etag(), created_time=now, last_modified_time=now)
    s.add(row)
    try:
        s.flush()
    except IntegrityError:  # another writer won the race (databases without BEGIN IMMEDIATE)
        raise conflict() from None
    return row


def update(s: Session, row: ResourceRow, body: dict) -> ResourceRow:
    row.body = dict(body)  # a new object, so SQLAlchemy sees the change
    row.etag = new_etag()
    now = utcnow()
    row.last_modified_time = max(now, row.last_modified_time)
    s.flush()
    return row


def delete(s: Session, row: ResourceRow) -> None:
    s.delete(row)
    s.flush()


def count(s: Session, account: str, kind: str, parent: str | None = None) -> int:
    q = select(func.count()).select_from(ResourceRow).where(
        ResourceRow.account_id == account, ResourceRow.kind == kind)
    if parent is not None:
        q = q.where(ResourceRow.parent == parent)
    return s.scalar(q) or 0


def all_rows(s: Session, account: str, kind: str, parent: str | None = None) -> list[ResourceRow]:
    q = select(ResourceRow).where(ResourceRow.account_id == account, ResourceRow.kind == kind)
    if parent is not None:
        q = q.where(ResourceRow.parent == parent)
    return list(s.scalars(q.order_by(ResourceRow.name)))


def page(s: Session, account: str, kind: str, parent: str, p: Page) -> tuple[list[ResourceRow], str | None]:
    """One page in byte order of name; the token is the first name of the next page."""
    q = select(ResourceRow).where(ResourceRow.account_id == account, ResourceRow.kind == kind,
                                  ResourceRow.parent == parent)
    if p.prefix:
        q = q.where(ResourceRow.name >= p.prefix, ResourceRow.name < p.prefix + "\U0010ffff")
    lower = p.next_token or p.start_key
    if lower:
        q = q.where(ResourceRow.name >= lower)
    rows = list(s.scalars(q.order_by(ResourceRow.name).limit(p.limit + 1)))
    if len(rows) > p.limit:
        return rows[:p.limit], rows[p.limit].name
    return rows, None


def page_in_memory(items: list, name: Callable[[object], str], p: Page) -> tuple[list, str | None]:
    """`page` for items already filtered and sorted by name in Python (tag filters, snapshots)."""
    lower = p.next_token or p.start_key
    items = [i for i in items if name(i).startswith(p.prefix) and (not lower or name(i) >= lower)]
    if len(items) > p.limit:
        return items[:p.limit], name(items[p.limit])
    return items, None


def next_id(s: Session, account: str, scope: str, name: str) -> int:
    """A per-scope sequence that never reuses a number (version ids, layer versions)."""
    row = get(s, account, "counter", scope, name)
    if row is None:
        now = utcnow()
        row = ResourceRow(account_id=account, kind="counter", parent=scope, name=name, body={"last": 0},
                          etag=new_etag(), created_time=now, last_modified_time=now)
        s.add(row)
    value = int(row.body["last"]) + 1
    row.body = {"last": value}
    s.flush()
    return value


def drop_counter(s: Session, account: str, scope: str, name: str) -> None:
    row = get(s, account, "counter", scope, name)
    if row is not None:
        s.delete(row)
        s.flush()
