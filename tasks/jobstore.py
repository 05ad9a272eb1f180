"""The job store: SQLAlchemy Core tables and the queries on them.

The job row, not the broker, is the source of truth. Every state change passes
through :func:`transition`, which holds the one table of legal moves. One schema
serves PostgreSQL (JSONB) and SQLite (JSON).
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine, RowMapping

from tasks import baked
from tasks.json_codec import to_json_text

metadata = sa.MetaData()
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
UTCDateTime = sa.DateTime(timezone=True)


class State(enum.StrEnum):
    """Job states; ``TERMINAL`` ones never change again."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELED = "canceled"


TERMINAL = frozenset({State.SUCCEEDED, State.FAILED, State.DEAD, State.CANCELED})

# from -> allowed targets; the one place illegal transitions are refused.
# dead -> queued is the operator's (or beat's) re-drive of a dead letter.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.QUEUED: frozenset({State.RUNNING, State.CANCELED, State.FAILED, State.DEAD}),
    State.RUNNING: frozenset({State.RUNNING, State.QUEUED, State.SUCCEEDED, State.FAILED,
                              State.DEAD, State.CANCELED}),
    State.DEAD: frozenset({State.QUEUED}),
    State.SUCCEEDED: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELED: frozenset(),
}


class ErrorClass(enum.StrEnum):
    """How a failure is handled: see DESIGN.md, "A job's life"."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    SYSTEMIC = "systemic"


api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("webhook_secret", sa.String(100), nullable=False),
    sa.Column("credits", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("owner_key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("domain", sa.String(32), nullable=False),
    sa.Column("operation", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("params", JSONType, nullable=False),
    sa.Column("input_key", sa.String(200)),
    sa.Column("input_name", sa.String(255)),
    sa.Column("input_format", sa.String(16)),
    sa.Column("input_size", sa.BigInteger),
    sa.Column("result", JSONType),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("error_details", JSONType),
    sa.Column("error_class", sa.String(16)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("lost_leases", sa.Integer, nullable=False, default=0),
    sa.Column("steps", JSONType, nullable=False),
    sa.Column("step", sa.String(120)),
    sa.Column("lease_owner", sa.String(96)),
    sa.Column("lease_expires_at", UTCDateTime),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("idempotency_key", sa.String(200)),
    sa.Column("reuse_key", sa.String(64)),
    sa.Column("callback_url", sa.Text),
    sa.Column("request_id", sa.String(64)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.UniqueConstraint("owner_key_id", "idempotency_key", name="uq_jobs_idempotency"),
)
sa.Index("ix_jobs_owner_created", jobs.c.owner_key_id, jobs.c.created_at)
sa.Index("ix_jobs_state_lease", jobs.c.state, jobs.c.lease_expires_at)
sa.Index("ix_jobs_domain_state", jobs.c.domain, jobs.c.state)
sa.Index("ix_jobs_reuse", jobs.c.reuse_key, jobs.c.state, jobs.c.finished_at)

job_events = sa.Table(
    "job_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("progress", sa.Integer, nullable=False),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("data", JSONType),
)
sa.Index("ix_job_events_job", job_events.c.job_id, job_events.c.id)

artifacts = sa.Table(
    "artifacts", metadata,
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Float),
    sa.Column("delivered", sa.Boolean, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)
sa.Index("ix_webhook_deliveries_job", webhook_deliveries.c.job_id)

dead_letters = sa.Table(
    "dead_letters", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # job | webhook
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("task_name", sa.String(120), nullable=False),
    sa.Column("payload", JSONType),
    sa.Column("error_class", sa.String(16), nullable=False),
    sa.Column("error_code", sa.String(64), nullable=False),
    sa.Column("error_message", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("redrives", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_retry_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
)
sa.Index("ix_dead_letters_open", dead_letters.c.resolved_at, dead_letters.c.next_retry_at)


# ---------------------------------------------------------------- engine


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, *, durable: bool = True, autocommit: bool = False) -> Engine:
    """An engine for PostgreSQL (psycopg 3) or SQLite (WAL, busy timeout).

    ``durable=False`` (PostgreSQL): its sessions commit without waiting for the WAL flush
    (``synchronous_commit=off``, set at connect, so it costs no round trip per transaction).
    ``autocommit`` (PostgreSQL): every statement is its own transaction.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  json_serializer=to_json_text)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {} if durable else {"options": "-c synchronous_commit=off"}
    # autocommit: no transaction is ever left open, so nothing to roll back on check-in
    options = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}
    engine = sa.create_engine(url, pool_size=5, max_overflow=10, connect_args=connect_args,
                              json_serializer=to_json_text, **options)
    _ping_when_idle(engine)
    return engine


PING_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout only when it sat idle for ``PING_IDLE_SECONDS``.

    ``pool_pre_ping`` pays a round trip on every checkout, twice per job step; a connection
    handed back milliseconds ago is not worth checking. An idle one (the database may have
    restarted meanwhile) is pinged, and a dead one is replaced: raising DisconnectionError
    makes the pool retry with a fresh connection (SQLAlchemy's custom pessimistic recipe).
    A connection that dies mid-use still raises once; SQLAlchemy then invalidates the pool,
    a step retries as a transient error, and the API answers 503.
    """

    def checked_in(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    def checking_out(dbapi_conn, record, _proxy) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc

    sa.event.listen(engine, "checkin", checked_in)
    sa.event.listen(engine, "checkout", checking_out)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every timestamp here is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# ---------------------------------------------------------------- API keys


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    is_admin: bool
    webhook_secret: str
    credits: int


def hash_key(raw: str) -> str:
    """API keys are 256-bit random tokens, so a plain SHA-256 is a safe store."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_key(conn: Connection, name: str, *, admin: bool = False, credits: int = 0
                   ) -> tuple[str, ApiKey]:
    """Insert a key; returns the raw token (shown once) and the stored key."""
    key_id = secrets.token_hex(8)
    raw = f"mm_{key_id}_{secrets.token_urlsafe(32)}"
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    conn.execute(api_keys.insert().values(
        id=key_id, name=name, key_hash=hash_key(raw), is_admin=admin,
        webhook_secret=secret, credits=credits, created_at=utcnow()))
    return raw, ApiKey(key_id, name, admin, secret, credits)


def find_api_key(conn: Connection, raw: str) -> ApiKey | None:
    row = conn.execute(sa.select(api_keys).where(
        api_keys.c.key_hash == hash_key(raw), api_keys.c.revoked_at.is_(None))).mappings().first()
    return _key(row) if row else None


def get_api_key(conn: Connection, key_id: str) -> ApiKey | None:
    row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
    return _key(row) if row else None


def list_api_keys(conn: Connection) -> list[ApiKey]:
    rows = conn.execute(sa.select(api_keys).where(api_keys.c.revoked_at.is_(None))
                        .order_by(api_keys.c.created_at)).mappings()
    return [_key(r) for r in rows]


def revoke_api_key(conn: Connection, key_id: str) -> bool:
    res = conn.execute(api_keys.update().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))
    return res.rowcount == 1


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(row["id"], row["name"], bool(row["is_admin"]), row["webhook_secret"], row["credits"])


# ---------------------------------------------------------------- jobs


class IllegalTransition(Exception):
    """A state change the state machine does not allow."""


class DuplicateJob(Exception):
    """A job with this owner and Idempotency-Key exists already."""

    def __init__(self, job_id: str):
        super().__init__(job_id)
        self.job_id = job_id


@dataclass
class NewJob:
    owner_key_id: str
    domain: str
    operation: str
    params: dict[str, Any]
    steps: list[str]
    input_key: str | None = None
    input_name: str | None = None
    input_format: str | None = None
    input_size: int | None = None
    idempotency_key: str | None = None
    callback_url: str | None = None
    request_id: str | None = None
    reuse_key: str | None = None


def reuse_key(owner: str, domain: str, operation: str, input_key: str | None, params: dict[str, Any]) -> str:
    """Identical input plus identical parameters, per API key: the key under which a result may be reused.

    Scoped to the key so one tenant never learns of (or gets the job id of) another's upload.
    """
    canonical = json.dumps([owner, domain, operation, input_key, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_reusable(conn: Connection, key: str, *, max_age_seconds: float) -> RowMapping | None:
    """The newest succeeded job with this reuse key, finished within ``max_age_seconds``."""
    cutoff = utcnow() - timedelta(seconds=max_age_seconds)
    return conn.execute(sa.select(jobs).where(
        jobs.c.reuse_key == key, jobs.c.state == State.SUCCEEDED.value, jobs.c.finished_at > cutoff,
    ).order_by(jobs.c.finished_at.desc()).limit(1)).mappings().first()


def copy_outcome(conn: Connection, job_id: str, source: RowMapping) -> RowMapping:
    """Finish a queued job with another job's result and artifacts (same storage keys)."""
    now = utcnow()
    conn.execute(jobs.update().where(jobs.c.id == job_id).values(
        state=State.SUCCEEDED.value, progress=100, message=f"reused result of job {source['id']}",
        result=source["result"], started_at=now, finished_at=now, updated_at=now, step=None))
    for art in list_artifacts(conn, source["id"]):
        conn.execute(artifacts.insert().values(job_id=job_id, name=art["name"], key=art["key"],
                                               media_type=art["media_type"], size=art["size"],
                                               sha256=art["sha256"], created_at=now))
    add_event(conn, job_id, "job.succeeded", State.SUCCEEDED, 100, "reused an identical finished job",
              {"reused_job_id": source["id"]})
    row = get_job(conn, job_id)
    assert row is not None
    return row


def insert_job(conn: Connection, new: NewJob) -> RowMapping:
    """Insert a queued job and its first event; raises DuplicateJob on a repeated Idempotency-Key."""
    now = utcnow()
    job_id = str(uuid.uuid4())
    values = dict(
        id=job_id, owner_key_id=new.owner_key_id, domain=new.domain, operation=new.operation,
        state=State.QUEUED.value, progress=0, message="queued", params=new.params,
        input_key=new.input_key, input_name=new.input_name, input_format=new.input_format,
        input_size=new.input_size, attempts=0, lost_leases=0, steps=new.steps, step=new.steps[0],
        lease_expires_at=None, idempotency_key=new.idempotency_key, reuse_key=new.reuse_key,
        callback_url=new.callback_url,
        request_id=new.request_id, created_at=now, updated_at=now)
    with_event = conn.dialect.name == "postgresql"
    insert = _insert_job_statement(tuple(values), with_event)
    if with_event:
        values.update(ev_at=now, ev_type="job.queued", ev_message="queued", ev_data=None)
    if not new.idempotency_key:
        row = baked.fetch_one(conn, insert, values) if with_event else conn.execute(insert, values).mappings().one()
    else:
        row = _insert_idempotent(conn, insert, values, new)
    if not with_event:
        add_event(conn, job_id, "job.queued", State.QUEUED, 0, "queued", at=now)
    return row


@functools.lru_cache(maxsize=4)
def _insert_job_statement(names: tuple[str, ...], with_event: bool) -> sa.Executable:
    """``INSERT INTO jobs ... RETURNING *`` with a bound parameter per column, built once.

    ``with_event`` (PostgreSQL): the ``job.queued`` event is inserted by the same statement.
    """
    insert = jobs.insert().values({name: sa.bindparam(name, type_=jobs.c[name].type) for name in names})
    return _with_event(insert, with_attempt=False) if with_event else insert.returning(*jobs.c)


def _insert_idempotent(conn: Connection, insert: sa.Executable, values: dict[str, Any], new: NewJob) -> RowMapping:
    """Insert under a savepoint; a concurrent twin's unique-key conflict becomes DuplicateJob."""
    existing = find_by_idempotency_key(conn, new.owner_key_id, new.idempotency_key or "")
    if existing is not None:
        raise DuplicateJob(existing)
    try:
        with conn.begin_nested():
            return conn.execute(insert, values).mappings().one()
    except sa.exc.IntegrityError:
        existing = find_by_idempotency_key(conn, new.owner_key_id, new.idempotency_key or "")
        if existing is None:
            raise
        raise DuplicateJob(existing) from None


def find_by_idempotency_key(conn: Connection, owner: str, key: str) -> str | None:
    return conn.execute(sa.select(jobs.c.id).where(
        jobs.c.owner_key_id == owner, jobs.c.idempotency_key == key)).scalar()


def get_job(conn: Connection, job_id: str, *, owner: str | None = None) -> RowMapping | None:
    query = sa.select(jobs).where(jobs.c.id == job_id)
    if owner is not None:
        query = query.where(jobs.c.owner_key_id == owner)
    return conn.execute(query).mappings().first()


@dataclass
class JobFilter:
    owner: str | None = None
    state: str | None = None
    domain: str | None = None
    operation: str | None = None
    input_key: str | None = None


def list_jobs(conn: Connection, flt: JobFilter, *, limit: int, offset: int,
              with_result: bool = True) -> tuple[list[RowMapping], int]:
    """A page of jobs, newest first, and the total count for the filter; without ``with_result``
    the rows have no ``result`` (a sprite mesh's is ~160 KB: 200 of them took 3 s to read)."""
    where = []
    if flt.owner is not None:
        where.append(jobs.c.owner_key_id == flt.owner)
    if flt.state:
        where.append(jobs.c.state == flt.state)
    if flt.domain:
        where.append(jobs.c.domain == flt.domain)
    if flt.operation:
        where.append(jobs.c.operation == flt.operation)
    if flt.input_key:
        where.append(jobs.c.input_key == flt.input_key)
    total = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(*where)).scalar_one()
    columns = jobs.c if with_result else [c for c in jobs.c if c.name != "result"]
    rows = conn.execute(sa.select(*columns).where(*where)
                        .order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit).offset(offset))
    return list(rows.mappings()), total


def add_event(conn: Connection, job_id: str, type_: str, state: State | str, progress: int,
              message: str, data: dict | None = None, *, at: datetime | None = None) -> None:
    conn.execute(job_events.insert().values(
        job_id=job_id, at=at or utcnow(), type=type_, state=str(state), progress=progress,
        message=message, data=data))


def add_progress_events(conn: Connection, job_id: str, held: list[tuple[int, str, datetime]]) -> None:
    """Many ``job.progress`` events in one statement.

    On PostgreSQL a fixed ``INSERT ... SELECT`` over one JSON array of the reports (see
    ``HELD_PROGRESS``): an executemany in psycopg's pipeline cost a fifth of a small job's
    worker CPU.
    """
    if not held:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_progress_events_pg(), {"job_id": job_id, "held": held_json(held)})
        return
    conn.execute(job_events.insert(), [
        {"job_id": job_id, "at": at, "type": "job.progress", "state": State.RUNNING.value, "progress": pct,
         "message": message, "data": None} for pct, message, at in held])


# Held progress reports as rows ``p(at, progress, message, n)`` from one JSONB parameter
# ``[[iso time, pct, message], ...]``: psycopg dumps three typed arrays in Python at ~2x the
# CPU of one json.dumps.
HELD_PROGRESS = ("(SELECT CAST(r.e->>0 AS timestamptz) AS at, CAST(r.e->>1 AS integer) AS progress, "
                 "r.e->>2 AS message, r.n FROM jsonb_array_elements(CAST(:held AS jsonb)) "
                 "WITH ORDINALITY AS r(e, n)) AS p")


def held_json(held: list[tuple[int, str, datetime]]) -> list[list[Any]]:
    """The ``held`` parameter of ``HELD_PROGRESS``."""
    return [[at.isoformat(), pct, message] for pct, message, at in held]


@functools.cache
def _progress_events_pg() -> sa.TextClause:
    return sa.text(
        "INSERT INTO job_events (job_id, at, type, state, progress, message) "
        f"SELECT :job_id, p.at, 'job.progress', 'running', p.progress, p.message FROM {HELD_PROGRESS} "
        "ORDER BY p.n").bindparams(sa.bindparam("held", type_=JSONB))  # ids follow the reports' order


def list_events(conn: Connection, job_id: str, *, after: int = 0, limit: int = 500) -> list[RowMapping]:
    rows = conn.execute(sa.select(job_events).where(job_events.c.job_id == job_id, job_events.c.id > after)
                        .order_by(job_events.c.id).limit(limit))
    return list(rows.mappings())


@dataclass(frozen=True)
class Event:
    """A job event to append with a row change; its state and progress come from the changed row."""

    type: str
    message: str
    data: dict[str, Any] | None = None
    with_attempt: bool = False  # data gains {"attempt": row.attempts}
    # held ``job.progress`` reports (pct, message, at), written just before this event
    progress: list[tuple[int, str, datetime]] = field(default_factory=list, hash=False, compare=False)


_CHANGED_COLUMNS = {c.name: sa.literal_column(f"changed.{c.name}", c.type).label(c.name) for c in jobs.c}
ALL_COLUMNS = tuple(c.name for c in jobs.c)
# what an outcome's caller reads back: the webhook's snapshot, the dead letter's attempt count
OUTCOME_COLUMNS = ("id", "state", "progress", "message", "callback_url", "attempts")
_EVENT_READS = ("id", "state", "progress", "attempts")  # what the event row takes from the changed row


def update_with_event(conn: Connection, update: sa.Update, event: Event | None,
                      params: dict[str, Any] | None = None, *, reusable: bool = False,
                      returning: tuple[str, ...] = ALL_COLUMNS) -> RowMapping | None:
    """Run ``UPDATE ... RETURNING`` and, if a row changed, append ``event`` for it.

    On PostgreSQL both happen in one statement (a data-modifying CTE): one round trip on
    the hot path of every job. Elsewhere, two statements in the caller's transaction.
    ``params`` fill the update's bound parameters; ``reusable``: the update is a cached
    statement, so the statement built around it is cached too. ``returning`` names the
    columns read back (an outcome needs a few; parsing the rest, JSON included, is waste).
    """
    params = dict(params or {})
    if event is None or conn.dialect.name != "postgresql":
        columns = returning if event is None else tuple(dict.fromkeys((*returning, *_EVENT_READS)))
        query = _returning(update, columns) if reusable else update.returning(*[jobs.c[n] for n in columns])
        row = conn.execute(query, params).mappings().first()
        if row is not None and event is not None:
            add_progress_events(conn, row["id"], event.progress)
            data = {**(event.data or {}), **({"attempt": row["attempts"]} if event.with_attempt else {})} or None
            add_event(conn, row["id"], event.type, row["state"], row["progress"], event.message, data)
        return row
    params.update(ev_at=utcnow(), ev_type=event.type, ev_message=event.message, ev_data=event.data or {})
    if event.progress:
        params["held"] = held_json(event.progress)
    shape = (event.with_attempt, bool(event.progress), returning)
    if reusable:  # a cached statement: compiled once, run on the driver (tasks/baked.py)
        return baked.fetch_one(conn, _with_event_cached(update, *shape), params)
    return conn.execute(_with_event(update, *shape), params).mappings().first()


@functools.lru_cache(maxsize=64)
def _returning(update: sa.Update, columns: tuple[str, ...]) -> sa.Update:
    return update.returning(*[jobs.c[name] for name in columns])


_EVENT_COLUMNS = ["job_id", "at", "type", "state", "progress", "message", "data"]


def _with_event(change: sa.Update | sa.Insert, with_attempt: bool, with_progress: bool = False,
                returning: tuple[str, ...] = ALL_COLUMNS) -> sa.Select:
    """``WITH changed AS (<change> RETURNING *), event AS (INSERT INTO job_events ...) SELECT changed.*``.

    The event's state and progress are the changed row's; ``ev_at``, ``ev_type``,
    ``ev_message`` and ``ev_data`` (None: SQL NULL) are bound at execution. The CTE's
    columns are named as text: asking SQLAlchemy for ``changed.c`` builds a proxy per jobs
    column, which cost more CPU than the rest of a step's SQL.

    ``with_progress``: the same INSERT first writes held ``job.progress`` events from the
    ``held`` parameter (``HELD_PROGRESS``); rows go in in report order, then the event, so
    ids follow that order (one INSERT ... SELECT ... ORDER BY).
    """
    changed = change.returning(*jobs.c).cte("changed")
    data = sa.cast(sa.bindparam("ev_data", type_=JSONB(none_as_null=True)), JSONB())
    if with_attempt:
        data = data.op("||")(sa.func.jsonb_build_object("attempt", sa.literal_column("changed.attempts")))
    row = _event_row(sa.literal_column("changed.id"), sa.bindparam("ev_at", type_=UTCDateTime),
                     sa.bindparam("ev_type", type_=sa.String()), sa.literal_column("changed.state"),
                     sa.literal_column("changed.progress"), sa.bindparam("ev_message", type_=sa.Text()), data,
                     ).select_from(changed)
    if with_progress:
        row = _after_progress(row.add_columns(sa.literal_column("9223372036854775807").label("n")), changed)
    event = job_events.insert().from_select(_EVENT_COLUMNS, row).cte("event")
    return sa.select(*[_CHANGED_COLUMNS[name] for name in returning]).select_from(changed).add_cte(event)


def _after_progress(last: sa.Select, changed: sa.CTE) -> sa.Select:
    """Held progress rows (``HELD_PROGRESS``) then ``last``, ordered: the rows to insert."""
    held = _event_row(
        sa.literal_column("changed.id"), sa.literal_column("p.at"), sa.literal_column("'job.progress'"),
        sa.literal_column("'running'"), sa.literal_column("p.progress"), sa.literal_column("p.message"),
        sa.cast(sa.null(), JSONB()),
    ).add_columns(sa.literal_column("p.n").label("n")).select_from(changed).join(
        sa.text(HELD_PROGRESS).bindparams(sa.bindparam("held", type_=JSONB)), sa.true())
    both = sa.union_all(held, last).subquery("e")
    return sa.select(*[both.c[name] for name in _EVENT_COLUMNS]).order_by(both.c.n)


def _event_row(*columns: sa.ColumnElement[Any]) -> sa.Select:
    """A SELECT of one job_events row's values, labelled with the column names."""
    return sa.select(*[column.label(name) for column, name in zip(columns, _EVENT_COLUMNS, strict=True)])


_with_event_cached = functools.lru_cache(maxsize=64)(_with_event)


def transition(conn: Connection, job_id: str, target: State, *, expect: Iterable[State] | None = None,
               held_by: str | None = None, event: Event | None = None,
               returning: tuple[str, ...] = ALL_COLUMNS, **values: Any) -> RowMapping:
    """Move a job to ``target`` if the state machine allows it; refuses otherwise.

    ``expect`` narrows the allowed source states further; ``held_by``, when given,
    requires the caller still to hold the lease (a stale worker cannot overwrite).
    The update is a compare-and-set on the current state, so concurrent writers
    cannot both win. ``event`` is appended with the change (see ``update_with_event``);
    ``returning`` names the columns of the row returned.
    """
    sources = tuple(s.value for s, targets in TRANSITIONS.items() if target in targets
                    and (expect is None or s in set(expect)))
    now = utcnow()
    values.setdefault("updated_at", now)
    if target in TERMINAL:
        values.setdefault("finished_at", now)
        values.setdefault("lease_owner", None)
        values.setdefault("lease_expires_at", None)
    values["state"] = target.value
    if any(isinstance(v, sa.ClauseElement) for v in values.values()):  # e.g. lost_leases + 1: built per call
        query = jobs.update().where(jobs.c.id == job_id, _state_in(sources))
        if held_by is not None:
            query = query.where(jobs.c.lease_owner == held_by)
        row = update_with_event(conn, query.values(**values), event, returning=returning)
    else:
        update = _transition_update(sources, held_by is not None, tuple(sorted(values)))
        params = {"job_id": job_id, "held_by": held_by, **{f"v_{k}": v for k, v in values.items()}}
        row = update_with_event(conn, update, event, params, reusable=True, returning=returning)
    if row is None:
        current = conn.execute(sa.select(jobs.c.state).where(jobs.c.id == job_id)).scalar() or "missing"
        raise IllegalTransition(f"job {job_id}: {current} -> {target.value} refused")
    return row


@functools.lru_cache(maxsize=64)
def _transition_update(sources: tuple[str, ...], held: bool, names: tuple[str, ...]) -> sa.Update:
    """The compare-and-set UPDATE of ``transition``, with bound parameters, built once per shape.

    No parameter is named after a column: SQLAlchemy would read it as one more SET value.
    """
    query = jobs.update().where(jobs.c.id == sa.bindparam("job_id"), _state_in(sources))
    if held:
        query = query.where(jobs.c.lease_owner == sa.bindparam("held_by"))
    return query.values({name: sa.bindparam(f"v_{name}", type_=jobs.c[name].type) for name in names})


def _state_in(states: tuple[str, ...]) -> sa.ColumnElement[bool]:
    """``state IN ('a', 'b')`` written into the SQL: a plain ``in_()`` is an "expanding"
    parameter that SQLAlchemy re-renders into the statement at every execution."""
    return jobs.c.state.in_([sa.literal_column(f"'{State(name).value}'") for name in states])


def claim(conn: Connection, job_id: str, step: str, owner: str, *, lease_seconds: float,
          event: Event | None = None) -> RowMapping | None:
    """Take the lease for ``step`` of a job; None if another worker holds it or it moved on.

    A claim succeeds when the job is queued or running at this step and nobody holds a
    live lease. It counts an attempt (shown to clients).
    """
    now = utcnow()
    params = {"job_id": job_id, "at_step": step, "owner": owner, "now": now,
              "expires": now + timedelta(seconds=lease_seconds)}
    return update_with_event(conn, _claim_update(), event, params, reusable=True)


@functools.cache
def _claim_update() -> sa.Update:
    now = sa.bindparam("now", type_=UTCDateTime)
    free = sa.or_(jobs.c.lease_owner.is_(None), jobs.c.lease_expires_at < now)
    return jobs.update().where(
        jobs.c.id == sa.bindparam("job_id"), jobs.c.step == sa.bindparam("at_step"),
        _state_in((State.QUEUED.value, State.RUNNING.value)), free,
    ).values(state=State.RUNNING.value, lease_owner=sa.bindparam("owner"),
             lease_expires_at=sa.bindparam("expires", type_=UTCDateTime), attempts=jobs.c.attempts + 1,
             updated_at=now, claimed_at=now, started_at=sa.func.coalesce(jobs.c.started_at, now))


def renew_lease(conn: Connection, job_id: str, owner: str, *, lease_seconds: float) -> str | None:
    """Extend a held lease (the holder's heartbeat, or the sweeper for a busy live holder).

    Returns the job's state, or None if ``owner`` no longer holds the lease.
    """
    return conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.lease_owner == owner)
                        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
                        .returning(jobs.c.state)).scalar()


def hand_off(conn: Connection, job_id: str, owner: str, next_step: str, *, lease_seconds: float,
             progress: int, message: str) -> bool:
    """Finish a step: release the lease and point the job at ``next_step``.

    The expiry stays set, so if the next step's message is lost the sweeper re-sends it.
    """
    now = utcnow()
    res = conn.execute(jobs.update().where(
        jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.state == State.RUNNING.value,
    ).values(step=next_step, lease_owner=None, attempts=0, progress=progress, message=message,
             lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now))
    return res.rowcount == 1


def release_for_retry(conn: Connection, job_id: str, owner: str, *, delay: float, lease_seconds: float,
                      message: str) -> None:
    """Give the lease back before a Celery retry; the sweeper waits out the countdown."""
    now = utcnow()
    conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.lease_owner == owner).values(
        lease_owner=None, message=message, updated_at=now,
        lease_expires_at=now + timedelta(seconds=delay + lease_seconds)))


def set_progress(conn: Connection, job_id: str, owner: str, progress: int, message: str,
                 *, lease_seconds: float) -> str | None:
    """Record progress (never backwards) and renew the lease.

    Returns ``running`` when recorded, the job's other state when it left ``running``
    (canceled, say), or None when another worker now holds the lease.
    """
    now = utcnow()
    highest = sa.case((jobs.c.progress > progress, jobs.c.progress), else_=progress)
    res = conn.execute(jobs.update().where(
        jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.state == State.RUNNING.value,
    ).values(progress=highest, message=message, updated_at=now,
             lease_expires_at=now + timedelta(seconds=lease_seconds)))
    if res.rowcount == 1:
        return State.RUNNING.value
    state = conn.execute(sa.select(jobs.c.state).where(jobs.c.id == job_id)).scalar()
    return None if state == State.RUNNING.value else state


def expired_leases(conn: Connection, *, limit: int = 100) -> Sequence[RowMapping]:
    """Running jobs whose lease (or hand-off window) has expired: their worker is gone."""
    return list(conn.execute(sa.select(jobs).where(
        jobs.c.state == State.RUNNING.value, jobs.c.lease_expires_at < utcnow(),
    ).order_by(jobs.c.lease_expires_at).limit(limit)).mappings())


def stale_queued(conn: Connection, *, older_than: float, limit: int = 100) -> Sequence[RowMapping]:
    """Queued jobs untouched for a long time: their message may have been lost."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    return list(conn.execute(sa.select(jobs).where(
        jobs.c.state == State.QUEUED.value, jobs.c.updated_at < cutoff,
    ).order_by(jobs.c.updated_at).limit(limit)).mappings())


def touch(conn: Connection, job_id: str, **values: Any) -> None:
    conn.execute(jobs.update().where(jobs.c.id == job_id).values(updated_at=utcnow(), **values))


# ---------------------------------------------------------------- artifacts


def add_artifact(conn: Connection, job_id: str, name: str, key: str, media_type: str, size: int,
                 sha256: str) -> None:
    """Record an artifact; a redelivered step overwrites its own earlier record."""
    conn.execute(artifacts.delete().where(artifacts.c.job_id == job_id, artifacts.c.name == name))
    conn.execute(artifacts.insert().values(job_id=job_id, name=name, key=key, media_type=media_type,
                                           size=size, sha256=sha256, created_at=utcnow()))


def list_artifacts(conn: Connection, job_id: str) -> list[RowMapping]:
    return artifacts_of(conn, [job_id]).get(job_id, [])


def artifacts_of(conn: Connection, job_ids: Sequence[str]) -> dict[str, list[RowMapping]]:
    """The artifacts of several jobs in one query (a page of a job list), by job id, each by name."""
    if not job_ids:
        return {}
    found: dict[str, list[RowMapping]] = {}
    for row in conn.execute(sa.select(artifacts).where(artifacts.c.job_id.in_(list(job_ids)))
                            .order_by(artifacts.c.job_id, artifacts.c.name)).mappings():
        found.setdefault(row["job_id"], []).append(row)
    return found


def get_artifact(conn: Connection, job_id: str, name: str) -> RowMapping | None:
    return conn.execute(sa.select(artifacts).where(artifacts.c.job_id == job_id, artifacts.c.name == name)
                        ).mappings().first()


# ---------------------------------------------------------------- webhooks and dead letters


def record_delivery(conn: Connection, **values: Any) -> None:
    conn.execute(webhook_deliveries.insert().values(at=utcnow(), **values))


def list_deliveries(conn: Connection, job_id: str) -> list[RowMapping]:
    return list(conn.execute(sa.select(webhook_deliveries).where(webhook_deliveries.c.job_id == job_id)
                             .order_by(webhook_deliveries.c.id)).mappings())


def add_dead_letter(conn: Connection, *, kind: str, job_id: str, task_name: str, error_class: str,
                    error_code: str, error_message: str, attempts: int, payload: dict | None = None,
                    next_retry_at: datetime | None = None) -> int:
    earlier = conn.execute(sa.select(sa.func.count()).select_from(dead_letters).where(
        dead_letters.c.job_id == job_id, dead_letters.c.kind == kind)).scalar_one()
    res = conn.execute(dead_letters.insert().values(
        kind=kind, job_id=job_id, task_name=task_name, payload=payload, error_class=error_class,
        error_code=error_code, error_message=error_message, attempts=attempts, redrives=earlier,
        created_at=utcnow(), next_retry_at=next_retry_at))
    return int(res.inserted_primary_key[0])


def due_dead_letters(conn: Connection, *, max_redrives: int, limit: int = 50) -> list[RowMapping]:
    """Open transient dead letters whose back-off has passed."""
    return list(conn.execute(sa.select(dead_letters).where(
        dead_letters.c.resolved_at.is_(None), dead_letters.c.error_class == ErrorClass.TRANSIENT.value,
        dead_letters.c.next_retry_at < utcnow(), dead_letters.c.redrives < max_redrives,
    ).order_by(dead_letters.c.id).limit(limit)).mappings())


def list_dead_letters(conn: Connection, *, open_only: bool, limit: int, offset: int) -> list[RowMapping]:
    query = sa.select(dead_letters)
    if open_only:
        query = query.where(dead_letters.c.resolved_at.is_(None))
    return list(conn.execute(query.order_by(dead_letters.c.id.desc()).limit(limit).offset(offset)).mappings())


def get_dead_letter(conn: Connection, dl_id: int) -> RowMapping | None:
    return conn.execute(sa.select(dead_letters).where(dead_letters.c.id == dl_id)).mappings().first()


def resolve_dead_letter(conn: Connection, dl_id: int) -> None:
    """Close a letter; a job that dies again opens a new one counting earlier re-drives."""
    conn.execute(dead_letters.update().where(dead_letters.c.id == dl_id).values(resolved_at=utcnow()))


def dead_letter_stats(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(sa.select(dead_letters.c.kind, dead_letters.c.error_class,
                                  sa.func.count()).where(dead_letters.c.resolved_at.is_(None))
                        .group_by(dead_letters.c.kind, dead_letters.c.error_class)).all()
    by = [{"kind": k, "error_class": c, "open": n} for k, c, n in rows]
    return {"open": sum(r["open"] for r in by), "by_class": by}


# ---------------------------------------------------------------- stats


def domain_stats(conn: Connection, owner: str | None) -> list[dict[str, Any]]:
    """Per domain and operation: totals by state, success rate, mean and max run time."""
    where = [jobs.c.owner_key_id == owner] if owner else []
    rows = conn.execute(sa.select(jobs.c.domain, jobs.c.operation, jobs.c.state, sa.func.count(),
                                  ).where(*where).group_by(jobs.c.domain, jobs.c.operation, jobs.c.state)).all()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for domain, op, state, n in rows:
        entry = out.setdefault((domain, op), {"domain": domain, "operation": op, "total": 0, "states": {}})
        entry["states"][state] = n
        entry["total"] += n
    for entry in out.values():
        done = sum(entry["states"].get(s, 0) for s in ("succeeded", "failed", "dead"))
        entry["success_rate"] = round(entry["states"].get("succeeded", 0) / done, 4) if done else None
        entry["timings"] = _timings(conn, entry["domain"], entry["operation"], where)
    return sorted(out.values(), key=lambda e: (e["domain"], e["operation"]))


def _timings(conn: Connection, domain: str, op: str, where: list) -> dict[str, float | None]:
    rows = conn.execute(sa.select(jobs.c.created_at, jobs.c.started_at, jobs.c.finished_at).where(
        jobs.c.domain == domain, jobs.c.operation == op, jobs.c.state == State.SUCCEEDED.value, *where,
    ).order_by(jobs.c.finished_at.desc()).limit(1000)).all()
    totals = sorted((as_utc(f) - as_utc(c)).total_seconds() for c, _s, f in rows if f and c)
    if not totals:
        return {"count": 0, "mean_s": None, "p50_s": None, "p95_s": None}
    return {"count": len(totals), "mean_s": round(sum(totals) / len(totals), 4),
            "p50_s": round(totals[len(totals) // 2], 4),
            "p95_s": round(totals[min(len(totals) - 1, int(len(totals) * 0.95))], 4)}


def finished_results(conn: Connection, domain: str, operation: str, owner: str | None, *, limit: int = 10_000
                     ) -> list[RowMapping]:
    """State, timestamps and result of the newest jobs of one operation (for per-domain figures)."""
    where = [jobs.c.domain == domain, jobs.c.operation == operation]
    if owner:
        where.append(jobs.c.owner_key_id == owner)
    return list(conn.execute(sa.select(jobs.c.state, jobs.c.created_at, jobs.c.result).where(*where)
                             .order_by(jobs.c.created_at.desc()).limit(limit)).mappings())


def count_by_state(conn: Connection) -> list[tuple[str, str, int]]:
    return [tuple(r) for r in conn.execute(sa.select(jobs.c.domain, jobs.c.state, sa.func.count())
                                           .group_by(jobs.c.domain, jobs.c.state)).all()]
