"""Lead routing: ordered rules (first match wins), owners, queues, round-robin pools and SLAs.

A :class:`Router` holds the ordered :class:`Route` list (the last one is the
default and has no condition) and the :class:`Rep` table. :meth:`Router.route`
turns a batch of leads into one :class:`Decision` per lead, each saying which
rule matched and why, where the lead went, when its SLA is due and under which
idempotency key it is logged.

Targets:

* ``owner``: a named rep; ``queue``: a named queue (always available);
* ``account_owner``: the lead's ``account_owner_id`` (from account matching);
* ``pool``: round-robin over the pool's reps that are active, not out of office
  and under their cap, starting after the rep assigned last (kept per pool in
  :attr:`Router.state_`), so a bulk batch spreads evenly and the result is
  deterministic given the state.

A rep target that cannot take the lead (no owner, unknown, inactive or out of
office rep, every pool rep unavailable or full) sends it to the route's
``fallback`` queue, logged and explained in ``why``; a non-default route
without a fallback lets the lead continue to the later rules. Routing never
raises for such leads.

Every decision carries an idempotency key: a hash of the lead id and the lead
fields routing reads. Given an :class:`~tierwise.store.audit.AuditLog`, a lead
already logged under its key is not routed again: the earlier decision is
returned with ``replay=True`` and no cursor or count moves.

Examples
--------
>>> from datetime import datetime
>>> routes = [
...     Route("tier_a", lambda lead: lead["tier"] == "A", "pool", target="ae_pool", pool=("R1", "R2"),
...           sla_minutes=60, fallback="triage", condition="tier = A"),
...     Route("default", None, "queue", target="nurture"),
... ]
>>> router = Router(routes, {"R1": Rep("R1"), "R2": Rep("R2")})
>>> leads = [{"lead_id": f"L{i}", "tier": tier, "created_at": datetime(2026, 3, 2, 9)}
...          for i, tier in enumerate("AAB")]
>>> [(d.rule, d.target) for d in router.route(leads, now=datetime(2026, 3, 2, 9, 5))]
[('tier_a', 'R1'), ('tier_a', 'R2'), ('default', 'nurture')]
>>> router.route(leads[:1], now=datetime(2026, 3, 2, 9, 6))[0].why
"rule 'tier_a' matched: tier = A; pool 'ae_pool' round-robin: R1"
>>> router.state_["cursor"], router.state_["assigned"]
({'ae_pool': 'R1'}, {'R1': 2, 'R2': 1})
"""

from __future__ import annotations

import copy
import gc
import hashlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from tierwise.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from tierwise.store.audit import AuditLog

logger = logging.getLogger(__name__)

#: What a route can send a lead to.
TARGET_KINDS = ("owner", "queue", "account_owner", "pool")

#: Codes in :attr:`Decision.fallback_used`: why the route's own target could not take the lead.
FALLBACK_REASONS = {
    "no_owner": "the lead has no account owner",
    "owner_unknown": "{rep} is not in the reps table",
    "owner_inactive": "{rep} is inactive",
    "owner_out_of_office": "{rep} is out of office",
    "pool_unavailable": "no rep in pool '{pool}' is available (inactive, out of office or at cap)",
}

#: Version tag hashed into every idempotency key; bump it only if the key recipe changes.
KEY_VERSION = "tierwise-route-v1"


@dataclass(frozen=True)
class Route:
    """One routing rule.

    Parameters
    ----------
    name : str
        Rule name, quoted in ``why`` and stored in :attr:`Decision.rule`.
    when : callable or None
        ``when(lead) -> bool`` on one lead (a mapping of field to value); ``None``
        only for the last (default) route.
    target_kind : {"owner", "queue", "account_owner", "pool"}
        What the lead goes to.
    target : str, optional
        Rep id (``owner``), queue name (``queue``) or pool name (``pool``; the
        route name when omitted). Not used by ``account_owner``.
    pool : sequence of str, optional
        ``pool`` only: the rep ids, in round-robin order.
    sla_minutes : int, optional
        First touch due this many minutes after ``created_at``.
    fallback : str, optional
        Queue that takes the lead when the target cannot (see module docs).
    condition : str, optional
        The condition as written, shown in ``why`` ("rule 'tier_a' matched: tier = A").
    when_frame : callable, optional
        Vectorised form of ``when``: ``when_frame(leads_frame)`` gives one bool per
        row (missing counts as false). Used instead of ``when`` when leads come as
        a DataFrame; it must agree with ``when``.
    reads : tuple of str
        Lead fields the condition reads; they go into the idempotency key.
    """

    name: str
    when: Callable[[Mapping[str, Any]], bool] | None
    target_kind: str
    target: str | None = None
    pool: Sequence[str] | None = None
    sla_minutes: int | None = None
    fallback: str | None = None
    condition: str | None = None
    when_frame: Callable[[pd.DataFrame], Any] | None = None
    reads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"The 'name' parameter of Route must be a non-empty str; got {self.name!r}.")
        if self.target_kind not in TARGET_KINDS:
            raise ValueError(f"The 'target_kind' parameter of Route must be one of {', '.join(TARGET_KINDS)}; "
                             f"got {self.target_kind!r}.")
        if self.target_kind in ("owner", "queue") and not self.target:
            raise ValueError(f"The 'target' parameter of Route must name the {self.target_kind} for route "
                             f"'{self.name}'; got {self.target!r}.")
        if self.target_kind == "pool":
            if not self.pool or isinstance(self.pool, str):
                raise ValueError(f"The 'pool' parameter of Route must be a non-empty list of rep ids for route "
                                 f"'{self.name}'; got {self.pool!r}.")
            object.__setattr__(self, "pool", tuple(self.pool))
        if self.sla_minutes is not None and (isinstance(self.sla_minutes, bool) or not isinstance(
                self.sla_minutes, int) or self.sla_minutes < 0):
            raise ValueError(f"The 'sla_minutes' parameter of Route must be an int >= 0 or None; "
                             f"got {self.sla_minutes!r}.")
        object.__setattr__(self, "reads", tuple(self.reads))

    @property
    def pool_name(self) -> str:
        """Name the pool's round-robin cursor is kept under."""
        return self.target or self.name


@dataclass(frozen=True)
class Rep:
    """A rep as routing sees it.

    ``cap`` limits the leads a pool may give the rep (``None``: no cap);
    ``assigned`` is the rep's current count, used unless the router state has one.
    """

    rep_id: str
    active: bool = True
    out_of_office: bool = False
    cap: int | None = None
    assigned: int = 0


class Decision(NamedTuple):
    """Where one lead went and why (an immutable named tuple: cheap to build by the million).

    ``fallback_used`` is the code of why the matched rule's own target could not
    take the lead (see :data:`FALLBACK_REASONS`); ``replay`` is true when the
    decision was made earlier and is returned again instead of routing twice.
    """

    lead_id: str
    rule: str
    why: str
    target_kind: str
    target: str | None
    sla_due: datetime | None
    decided_at: datetime
    idempotency_key: str
    fallback_used: str | None = None
    replay: bool = False


class Breach(NamedTuple):
    """A lead whose first touch came after its SLA, or has not come and the SLA has passed."""

    lead_id: str
    rule: str
    target_kind: str
    target: str | None
    sla_due: datetime
    first_touch: datetime | None
    late_by: timedelta
    status: str  # "untouched" or "late"


# -- idempotency keys ------------------------------------------------------------------------------


def _canon(value: Any) -> str:
    """Stable text for a field value: the same for a dict value and the DataFrame cell holding it."""
    if type(value) is str:
        return value
    if value is None or value is pd.NaT or value is pd.NA:
        return "\x00"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "\x00"
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _key_header(fields: Sequence[str]) -> str:
    return "\x1e".join((KEY_VERSION, "lead_id", *fields)) + "\x1e"


def _hash_keys(header: str, columns: list[list[str]]) -> list[str]:
    blake = hashlib.blake2b
    if len(columns) == 1:
        texts: Iterable[str] = columns[0]
    else:
        texts = map("\x1f".join, zip(*columns, strict=True))
    return [blake((header + t).encode(), digest_size=16).hexdigest() for t in texts]


def idempotency_key(lead: Mapping[str, Any], fields: Sequence[str] = ("account_owner_id",)) -> str:
    """The key a lead is logged under: a hash of its id and the ``fields`` routing reads.

    Examples
    --------
    >>> a = idempotency_key({"lead_id": "L1", "account_owner_id": "R1"})
    >>> a == idempotency_key({"lead_id": "L1", "account_owner_id": "R1", "note": "ignored"})
    True
    >>> a == idempotency_key({"lead_id": "L1", "account_owner_id": "R2"}), len(a)
    (False, 32)
    """
    column = [[_canon(lead.get("lead_id"))], *([_canon(lead.get(f))] for f in fields)]
    return _hash_keys(_key_header(fields), column)[0]


# -- the router ------------------------------------------------------------------------------------


@dataclass
class _Batch:
    """Column view of the leads being routed."""

    frame: pd.DataFrame | None
    rows: list[Mapping[str, Any]] | None
    n: int
    _records: list[dict[str, Any]] | None = field(default=None, repr=False)

    def column(self, name: str) -> list[Any]:
        if self.frame is not None:
            return self.frame[name].tolist() if name in self.frame.columns else [None] * self.n
        return [row.get(name) for row in self.rows]  # type: ignore[union-attr]

    def has(self, name: str) -> bool:
        if self.frame is not None:
            return name in self.frame.columns
        return any(name in row for row in self.rows)  # type: ignore[union-attr]

    def record(self, i: int) -> Mapping[str, Any]:
        if self.rows is not None:
            return self.rows[i]
        if self._records is None:
            self._records = self.frame.to_dict("records")  # type: ignore[union-attr]
        return self._records[i]


class Router:
    """Route leads by ordered rules; keeps round-robin cursors and per-rep counts in :attr:`state_`.

    Parameters
    ----------
    routes : sequence of Route
        In priority order; the last one is the default (``when=None``).
    reps : mapping of str to Rep
        Reps by id. A rep a route names but the table lacks is unavailable.
    state : dict, optional
        A previous :attr:`state_` (``{"cursor": {pool: rep_id}, "assigned": {rep_id: n}}``)
        to continue from; its counts override :attr:`Rep.assigned`.
    key_fields : sequence of str, optional
        Lead fields hashed with ``lead_id`` into the idempotency key. Default:
        ``account_owner_id`` plus every route's ``reads``.

    Attributes
    ----------
    state_ : dict
        ``{"cursor": {pool_name: last rep assigned}, "assigned": {rep_id: count}}``;
        JSON-serialisable, persist it to continue the round-robin next time.
    key_fields_ : tuple of str
        The fields in the idempotency key.
    """

    def __init__(self, routes: Sequence[Route], reps: Mapping[str, Rep], *, state: Mapping[str, Any] | None = None,
                 key_fields: Sequence[str] | None = None):
        routes = list(routes)
        if not routes or not all(isinstance(r, Route) for r in routes):
            raise ValueError(f"The 'routes' parameter of Router must be a non-empty list of Route; got {routes!r}.")
        names = [r.name for r in routes]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"The 'routes' parameter of Router must have unique names; got duplicates {dup}.")
        for r in routes[:-1]:
            if r.when is None and r.when_frame is None:
                raise ValueError(f"The 'routes' parameter of Router must give every route but the last a condition; "
                                 f"got route '{r.name}' without one.")
        default = routes[-1]
        if default.when is not None or default.when_frame is not None:
            raise ValueError(f"The 'routes' parameter of Router must end with a default route (when=None); "
                             f"got '{default.name}' with a condition.")
        if default.target_kind != "queue" and not default.fallback:
            raise ValueError(f"The 'routes' parameter of Router must give the default route a fallback queue "
                             f"unless it targets a queue; got '{default.name}' ({default.target_kind}) without one.")
        pools: dict[str, tuple[str, ...]] = {}
        for r in routes:
            if r.target_kind == "pool":
                if pools.setdefault(r.pool_name, r.pool) != r.pool:  # type: ignore[arg-type]
                    raise ValueError(f"The 'routes' parameter of Router must give pool '{r.pool_name}' the same "
                                     f"reps wherever it is used; got {pools[r.pool_name]} and {r.pool}.")
        self.routes = routes
        self.reps = dict(reps)
        if key_fields is None:
            key_fields = ["account_owner_id"]
            for r in routes:
                key_fields += [f for f in r.reads if f not in key_fields]
        self.key_fields_ = tuple(f for f in key_fields if f != "lead_id")
        state = copy.deepcopy(dict(state or {}))
        assigned = {rid: int(rep.assigned) for rid, rep in self.reps.items()}
        assigned.update({str(k): int(v) for k, v in (state.get("assigned") or {}).items()})
        self.state_: dict[str, Any] = {"cursor": dict(state.get("cursor") or {}), "assigned": assigned}
        for pool, members in pools.items():
            missing = [m for m in members if m not in self.reps]
            if missing:
                logger.warning("pool '%s' lists reps not in the reps table (never assigned): %s",
                               pool, ", ".join(missing))

    # -- public --------------------------------------------------------------------------------
    def route(self, leads: Sequence[Mapping[str, Any]] | pd.DataFrame, now: datetime, *,
              audit: AuditLog | None = None) -> list[Decision]:
        """One decision per lead, in input order.

        Parameters
        ----------
        leads : list of dict or DataFrame
            Each lead has ``lead_id`` (kept as text), optionally ``account_owner_id``
            and ``created_at`` (datetime or ISO text; SLAs count from the decision
            time when missing), and whatever the conditions read.
        now : datetime
            Decision time, stored in :attr:`Decision.decided_at`.
        audit : AuditLog, optional
            Leads whose key is already logged come back as the logged decision
            with ``replay=True``; the new decisions are recorded in it, together
            with :attr:`state_`, before this returns.

        Returns
        -------
        list of Decision
            A lead repeated within the batch (same key) is routed once; its repeats are replays.
        """
        with pause_gc():
            return self._route(leads, now, audit)

    def _route(self, leads: Sequence[Mapping[str, Any]] | pd.DataFrame, now: datetime,
               audit: AuditLog | None) -> list[Decision]:
        batch = self._batch(leads)
        n = batch.n
        lead_ids = [x if type(x) is str else _canon(x) for x in batch.column("lead_id")]
        keys = self._keys(batch, lead_ids)
        earlier = audit.seen_many(keys, replay=True) if audit is not None and len(audit) else None
        replays: dict[int, Decision | int] = {}  # position -> logged decision, or the position it repeats
        todo = np.ones(n, dtype=bool)
        if earlier is not None or len(set(keys)) != n:
            first: dict[str, int] = {}
            for i, key in enumerate(keys):
                prev = earlier[i] if earlier is not None else None
                if prev is not None or key in first:
                    replays[i] = prev if prev is not None else first[key]  # type: ignore[assignment]
                    todo[i] = False
                else:
                    first[key] = i
        choice, masks = self._choose(batch, todo)
        final, target, code, why, failed = self._assign(batch, choice, masks)
        kinds = [r.target_kind for r in self.routes] + [""]
        names = [r.name for r in self.routes] + [""]
        kind = [("queue" if f else kinds[r]) for r, f in zip(final.tolist(), failed.tolist(), strict=True)]
        due = self._sla_due(batch, final, now)
        decisions = list(map(Decision._make, zip(lead_ids, [names[r] for r in final.tolist()], why, kind, target,
                                                 due, repeat(now, n), keys, code, repeat(False, n), strict=True)))
        for i, prev in replays.items():
            decisions[i] = _as_replay(prev if isinstance(prev, Decision) else decisions[prev])
        out = decisions
        if audit is not None:
            fresh = [d for d in out if not d.replay]
            _, skipped = audit.record(fresh, state=self.state_)
            if skipped:  # another process logged some of these keys first: its decision stands
                resolved = []
                for d in out:
                    logged = None if d.replay else audit.seen(d.idempotency_key)
                    resolved.append(_as_replay(logged) if logged is not None and logged != d else d)
                out = resolved
        return out

    # -- steps -----------------------------------------------------------------------------------
    def _batch(self, leads: Sequence[Mapping[str, Any]] | pd.DataFrame) -> _Batch:
        if isinstance(leads, pd.DataFrame):
            if "lead_id" not in leads.columns:
                raise DataError("leads to route need a 'lead_id' column")
            if leads["lead_id"].isna().any():
                raise DataError(f"{int(leads['lead_id'].isna().sum())} lead(s) to route have no lead_id")
            return _Batch(leads.reset_index(drop=True), None, len(leads))
        rows = list(leads)
        for pos, row in enumerate(rows):
            if not isinstance(row, Mapping) or row.get("lead_id") is None:
                raise DataError(f"lead #{pos + 1} to route has no lead_id; every lead needs one")
        return _Batch(None, rows, len(rows))

    def _keys(self, batch: _Batch, lead_ids: list[str]) -> list[str]:
        columns = [lead_ids] + [[x if type(x) is str else _canon(x) for x in batch.column(f)]
                                for f in self.key_fields_]
        return _hash_keys(_key_header(self.key_fields_), columns)

    def _choose(self, batch: _Batch, todo: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Index of the first matching route per lead (-1 for leads not routed here)."""
        choice = np.full(batch.n, -1, dtype=np.int64)
        open_ = todo.copy()
        masks: dict[int, np.ndarray] = {}
        for r, route in enumerate(self.routes):
            idx = np.flatnonzero(open_)
            if not len(idx):
                break
            if route.when is None and route.when_frame is None:
                choice[idx] = r
                break
            if batch.frame is not None and route.when_frame is not None:
                masks[r] = _as_mask(route.when_frame(batch.frame), batch.n, route.name)
                hit = idx[masks[r][idx]]
            else:
                hit = idx[np.fromiter((self._match(route, batch, i) for i in idx), dtype=bool, count=len(idx))]
            choice[hit] = r
            open_[hit] = False
        return choice, masks

    @staticmethod
    def _match(route: Route, batch: _Batch, i: int) -> bool:
        lead = batch.record(i)
        try:
            return bool(route.when(lead))  # type: ignore[misc]
        except Exception as exc:
            raise DataError(f"rule '{route.name}' could not be evaluated for lead {lead.get('lead_id')!r}: "
                            f"{type(exc).__name__}: {exc}") from exc

    def _sla_due(self, batch: _Batch, final: np.ndarray, now: datetime) -> list[datetime | None]:
        """``created_at`` (the decision time when missing) plus the SLA of each lead's final route."""
        minutes = np.array([np.nan if r.sla_minutes is None else r.sla_minutes for r in self.routes] + [np.nan])
        per_lead = minutes[final]  # final == -1 (replays) picks the trailing nan
        has = ~np.isnan(per_lead)
        out: list[datetime | None] = [None] * batch.n
        if not has.any() or not batch.has("created_at"):
            if has.any():
                out = [now + timedelta(minutes=float(m)) if ok else None
                       for m, ok in zip(per_lead.tolist(), has.tolist(), strict=True)]
            return out
        column = batch.frame["created_at"] if batch.frame is not None else None
        if column is not None and pd.api.types.is_datetime64_any_dtype(column):
            try:
                base = pd.DatetimeIndex(column).fillna(pd.Timestamp(now))
            except (TypeError, ValueError) as exc:
                raise DataError(f"created_at has time zone {column.dt.tz} but now ({now.isoformat()}) "
                                f"{'has none' if now.tzinfo is None else 'has one'}; give both or neither") from exc
            due = (base + pd.to_timedelta(np.where(has, per_lead, 0), unit="min")).to_pydatetime()
            return [d if ok else None for d, ok in zip(due.tolist(), has.tolist(), strict=True)]
        created = self._created(batch.column("created_at"), now)
        deltas = {m: timedelta(minutes=m) for m in set(per_lead[has].tolist())}
        return [c + deltas[m] if ok else None
                for c, m, ok in zip(created, per_lead.tolist(), has.tolist(), strict=True)]

    @staticmethod
    def _created(values: list[Any], now: datetime) -> list[datetime]:
        out = []
        for v in values:
            if isinstance(v, datetime):
                out.append(v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
            elif v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
                out.append(now)
            elif isinstance(v, str):
                try:
                    out.append(datetime.fromisoformat(v.strip()))
                except ValueError as exc:
                    raise DataError(f"created_at {v!r} is not an ISO date-time (e.g. 2026-03-02T09:00:00)") from exc
            elif isinstance(v, date):
                out.append(datetime(v.year, v.month, v.day))
            else:
                raise DataError(f"created_at {v!r} is not a date-time")
        return out

    def _availability(self, rep_id: Any) -> str | None:
        """``None`` when the rep can take a lead, else the fallback code."""
        rep = self.reps.get(rep_id)
        if rep is None:
            return "owner_unknown"
        if not rep.active:
            return "owner_inactive"
        if rep.out_of_office:
            return "owner_out_of_office"
        return None

    def _assign(self, batch: _Batch, choice: np.ndarray, masks: dict[int, np.ndarray]
                ) -> tuple[np.ndarray, list[str | None], list[str | None], list[str], np.ndarray]:
        """Final route, target, fallback code, why and fallback-queue flag per lead; updates :attr:`state_`.

        Rep availability (active, out of office, already at cap) is fixed for the
        batch, so owner targets and empty pools are settled first: a lead a rule
        cannot serve goes to the rule's fallback queue, or on to the later rules.
        Direct (owner / account owner) assignments then count, and pools hand out
        their leads round-robin in lead order.
        """
        n = batch.n
        routes = self.routes
        counts: dict[str, int] = self.state_["assigned"]
        cursor: dict[str, str] = self.state_["cursor"]
        avail = {rid: self._availability(rid) for rid in self.reps}
        final = choice.copy()
        target: list[str | None] = [None] * n
        code: list[str | None] = [None] * n
        fallen: dict[int, str] = {}  # position -> why text of the rules it fell through
        failed = np.zeros(n, dtype=bool)  # the final route's target failed: its fallback queue takes the lead
        owners = None
        if batch.has("account_owner_id"):
            owners = [None if x is None or (type(x) is float and x != x) or x is pd.NA
                      else (x if type(x) is str else _canon(x)) for x in batch.column("account_owner_id")]
        pools: dict[str, dict[str, Any]] = {}
        for route in routes:
            if route.target_kind == "pool" and route.pool_name not in pools:
                members = list(route.pool)  # type: ignore[arg-type]
                caps = [self.reps[m].cap if m in self.reps else None for m in members]
                ok = [avail.get(m, "owner_unknown") is None and (c is None or counts.get(m, 0) < c)
                      for m, c in zip(members, caps, strict=True)]
                last = cursor.get(route.pool_name)
                pools[route.pool_name] = {"members": members, "caps": caps, "ok": ok, "leads": [],
                                          "pos": members.index(last) if last in members else -1}
        explain = self._explainer()

        # 1. settle static failures, rule by rule; leads moving on only go to later rules
        for r, route in enumerate(routes):
            idx = np.flatnonzero(final == r).tolist()
            if not idx:
                continue
            kind = route.target_kind
            if kind == "queue":
                for i in idx:
                    target[i] = route.target
                continue
            if kind == "pool":
                if any(pools[route.pool_name]["ok"]):
                    continue
                bad = [(i, None, "pool_unavailable") for i in idx]
            elif kind == "owner":
                c = avail.get(route.target, "owner_unknown")
                for i in idx:
                    target[i] = route.target
                bad = [(i, route.target, c) for i in idx] if c is not None else []
            else:
                if owners is None:
                    bad = [(i, None, "no_owner") for i in idx]
                else:
                    bad = []
                    for i in idx:
                        o = owners[i]
                        target[i] = o
                        c = "no_owner" if o is None else avail.get(o, "owner_unknown")
                        if c is not None:
                            bad.append((i, o, c))
            for i, rep, c in bad:
                if code[i] is None:
                    code[i] = c
                if route.fallback:
                    failed[i] = True
                    target[i] = route.fallback
                    fallen[i] = (f"{fallen.get(i, '')}{explain(r, rep, c)}, "
                                 f"so it went to fallback queue '{route.fallback}'")
                else:
                    fallen[i] = f"{fallen.get(i, '')}{explain(r, rep, c)}, and the rule has no fallback; "
                    final[i] = self._next_match(batch, masks, r, i)
                    target[i] = None

        # 2. direct assignments count
        for r, route in enumerate(routes):
            if route.target_kind in ("owner", "account_owner"):
                for i in np.flatnonzero((final == r) & ~failed).tolist():
                    counts[target[i]] = counts.get(target[i], 0) + 1  # type: ignore[index]

        # 3. pools, round-robin in lead order
        pool_rules = {r: route.pool_name for r, route in enumerate(routes) if route.target_kind == "pool"}
        if pool_rules:
            in_pool = np.isin(final, list(pool_rules)) & ~failed
            for i in np.flatnonzero(in_pool).tolist():
                pools[pool_rules[int(final[i])]]["leads"].append(i)
            binding = any(
                c is not None and ok and counts.get(m, 0) + sum(len(p["leads"]) for p in pools.values()
                                                                 if m in p["members"]) > c
                for p in pools.values() for m, c, ok in zip(p["members"], p["caps"], p["ok"], strict=True))
            if binding:
                self._fill_pools_in_order(batch, masks, pools, pool_rules, final, target, code, failed, fallen,
                                          explain, np.flatnonzero(in_pool).tolist(), counts)
            else:
                for name, p in pools.items():
                    leads = p["leads"]
                    if not leads:
                        continue
                    members = p["members"]
                    ok_at = [j for j, ok in enumerate(p["ok"]) if ok]
                    start = next((k for k, j in enumerate(ok_at) if j > p["pos"]), 0)
                    picks = np.asarray(ok_at)[(start + np.arange(len(leads))) % len(ok_at)]
                    for i, j in zip(leads, picks.tolist(), strict=True):
                        target[i] = members[j]
                    for j, k in enumerate(np.bincount(picks, minlength=len(members)).tolist()):
                        if k:
                            counts[members[j]] = counts.get(members[j], 0) + k
                    cursor[name] = members[int(picks[-1])]
            lost: dict[str, int] = {}
            for i in np.flatnonzero(failed).tolist():
                r = int(final[i])
                if r in pool_rules:
                    lost[pool_rules[r]] = lost.get(pool_rules[r], 0) + 1
            for name, k in lost.items():
                logger.warning("pool '%s': %d lead(s) went to a fallback queue because no rep was available "
                               "(inactive, out of office or at cap)", name, k)

        # 4. why
        why = [""] * n
        for i in np.flatnonzero(final >= 0).tolist():
            r = int(final[i])
            if failed[i]:
                why[i] = fallen[i]
            else:
                text = explain(r, target[i], None)
                why[i] = fallen[i] + text if i in fallen else text
        return final, target, code, why, failed

    def _fill_pools_in_order(self, batch: _Batch, masks: dict[int, np.ndarray], pools: dict[str, dict[str, Any]],
                             pool_rules: dict[int, str], final: np.ndarray, target: list[str | None],
                             code: list[str | None], failed: np.ndarray, fallen: dict[int, str],
                             explain: Callable[..., str], order: list[int], counts: dict[str, int]) -> None:
        """Round-robin lead by lead, for batches where some rep may reach its cap."""
        routes = self.routes
        cursor: dict[str, str] = self.state_["cursor"]
        for i in order:
            r = int(final[i])
            while True:
                name = pool_rules[r]
                p = pools[name]
                members, caps, ok = p["members"], p["caps"], p["ok"]
                m = len(members)
                for step in range(1, m + 1):
                    j = (p["pos"] + step) % m
                    if ok[j] and (caps[j] is None or counts.get(members[j], 0) < caps[j]):
                        counts[members[j]] = counts.get(members[j], 0) + 1
                        p["pos"] = j
                        cursor[name] = target[i] = members[j]
                        final[i] = r
                        break
                else:
                    if code[i] is None:
                        code[i] = "pool_unavailable"
                    route = routes[r]
                    if route.fallback:
                        failed[i], final[i], target[i] = True, r, route.fallback
                        fallen[i] = (f"{fallen.get(i, '')}{explain(r, None, 'pool_unavailable')}, "
                                     f"so it went to fallback queue '{route.fallback}'")
                        break
                    fallen[i] = f"{fallen.get(i, '')}{explain(r, None, 'pool_unavailable')}, and the rule has no fallback; "
                    r = self._next_match(batch, masks, r, i)
                    if r in pool_rules:
                        continue
                    final[i] = r  # a queue, owner or account owner: settle it like step 1 would
                    self._settle_direct(r, i, target, code, failed, fallen, explain, batch, masks, final, counts)
                break

    def _settle_direct(self, r: int, i: int, target: list[str | None], code: list[str | None], failed: np.ndarray,
                       fallen: dict[int, str], explain: Callable[..., str], batch: _Batch,
                       masks: dict[int, np.ndarray], final: np.ndarray, counts: dict[str, int]) -> None:
        """Deliver one lead to a non-pool rule (rare path: a pool filled up mid-batch and had no fallback)."""
        while True:
            route = self.routes[r]
            if route.target_kind == "queue":
                target[i] = route.target
                return
            if route.target_kind == "owner":
                rep = route.target
            else:
                raw = batch.record(i).get("account_owner_id")
                rep = None if raw is None or (type(raw) is float and raw != raw) else _canon(raw)
            c = "no_owner" if rep is None else self._availability(rep)
            if c is None:
                target[i] = rep
                counts[rep] = counts.get(rep, 0) + 1  # type: ignore[index]
                return
            if code[i] is None:
                code[i] = c
            if route.fallback:
                failed[i], target[i] = True, route.fallback
                fallen[i] = f"{fallen.get(i, '')}{explain(r, rep, c)}, so it went to fallback queue '{route.fallback}'"
                return
            fallen[i] = f"{fallen.get(i, '')}{explain(r, rep, c)}, and the rule has no fallback; "
            r = final[i] = self._next_match(batch, masks, r, i)
            if self.routes[r].target_kind == "pool":  # pragma: no cover - exotic rule chains
                target[i] = None
                return

    def _explainer(self) -> Callable[[int, str | None, str | None], str]:
        routes = self.routes
        matched = [(f"rule '{r.name}' matched: {r.condition}" if r.condition else f"rule '{r.name}' matched")
                   if (r.when is not None or r.when_frame is not None)
                   else f"no earlier rule matched; default rule '{r.name}'" for r in routes]
        cache: dict[tuple[int, str | None, str | None], str] = {}

        def explain(r: int, target: str | None, code: str | None) -> str:
            key = (r, target, code)
            text = cache.get(key)
            if text is None:
                route = routes[r]
                if code is None:
                    where = {"owner": f"owner {target}", "queue": f"queue '{target}'",
                             "account_owner": f"account owner {target}",
                             "pool": f"pool '{route.pool_name}' round-robin: {target}"}[route.target_kind]
                    text = f"{matched[r]}; {where}"
                else:
                    rep = f"owner {target}" if route.target_kind == "owner" else f"account owner {target}"
                    text = f"{matched[r]}; {FALLBACK_REASONS[code].format(rep=rep, pool=route.pool_name)}"
                cache[key] = text
            return text

        return explain

    def _next_match(self, batch: _Batch, masks: dict[int, np.ndarray], r: int, i: int) -> int:
        for s in range(r + 1, len(self.routes)):
            route = self.routes[s]
            if route.when is None and route.when_frame is None:
                return s
            if batch.frame is not None and route.when_frame is not None:
                if s not in masks:
                    masks[s] = _as_mask(route.when_frame(batch.frame), batch.n, route.name)
                if masks[s][i]:
                    return s
            elif self._match(route, batch, i):
                return s
        raise AssertionError("unreachable: the last route is a default")  # pragma: no cover


@contextmanager
def pause_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building objects by the million.

    Decisions hold no reference cycles; without the pause, collections triggered
    by the sheer number of new objects cost several times the building itself.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _as_replay(d: Decision) -> Decision:
    return d if d.replay else d._replace(replay=True)


def _as_mask(values: Any, n: int, name: str) -> np.ndarray:
    if isinstance(values, pd.Series):
        values = values.fillna(False).to_numpy()
    mask = np.asarray(values)
    if mask.shape != (n,):
        raise DataError(f"rule '{name}': the vectorised condition gave {mask.shape} values for {n} leads")
    return mask.astype(bool)


# -- SLA breaches ------------------------------------------------------------------------------------


def sla_breaches(decisions: Iterable[Decision], first_touch: Mapping[str, datetime | None] | None,
                 now: datetime) -> list[Breach]:
    """Leads whose SLA passed without a first touch, or whose first touch came after the SLA.

    Parameters
    ----------
    decisions : iterable of Decision
        Replays of a decision already listed are counted once.
    first_touch : mapping of lead_id to datetime, optional
        When each lead was first touched; missing or ``None``: not touched yet.
    now : datetime
        Untouched leads breach when ``now > sla_due``.

    Returns
    -------
    list of Breach
        In decision order; ``late_by`` is how far past the SLA (until ``now`` when untouched).

    Examples
    --------
    >>> from datetime import datetime
    >>> d = Decision("L1", "tier_a", "...", "owner", "R1", datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 9), "k1")
    >>> [b.status for b in sla_breaches([d], {"L1": datetime(2026, 3, 2, 9, 30)}, datetime(2026, 3, 2, 12))]
    []
    >>> b, = sla_breaches([d], {}, datetime(2026, 3, 2, 12))
    >>> b.status, b.late_by
    ('untouched', datetime.timedelta(seconds=7200))
    """
    with pause_gc():
        return _breaches(decisions, first_touch or {}, now)


def _breaches(decisions: Iterable[Decision], touches: Mapping[str, datetime | None], now: datetime) -> list[Breach]:
    out: list[Breach] = []
    done: set[str] = set()
    for d in decisions:
        if d.sla_due is None or d.idempotency_key in done:
            continue
        done.add(d.idempotency_key)
        touched = touches.get(d.lead_id)
        try:
            if touched is None:
                if now > d.sla_due:
                    out.append(Breach(d.lead_id, d.rule, d.target_kind, d.target, d.sla_due, None,
                                      now - d.sla_due, "untouched"))
            elif touched > d.sla_due:
                out.append(Breach(d.lead_id, d.rule, d.target_kind, d.target, d.sla_due, touched,
                                  touched - d.sla_due, "late"))
        except TypeError as exc:
            raise DataError(f"lead {d.lead_id}: SLA due {d.sla_due.isoformat()} and "
                            f"{'now' if touched is None else 'first touch'} cannot be compared; give created_at, "
                            f"now and first-touch times all with a time zone or all without") from exc
    return out


def decisions_frame(decisions: Sequence[Decision]) -> pd.DataFrame:
    """Decisions as a table, one row per decision, columns in :class:`Decision` field order.

    Examples
    --------
    >>> from datetime import datetime
    >>> d = Decision("L1", "default", "...", "queue", "nurture", None, datetime(2026, 3, 2, 9), "k1")
    >>> decisions_frame([d])[["lead_id", "target", "replay"]].to_dict("records")
    [{'lead_id': 'L1', 'target': 'nurture', 'replay': False}]
    """
    frame = pd.DataFrame(list(decisions), columns=list(Decision._fields))
    # typed even when a column is all empty (no SLA, no fallback), so engines can store it
    return frame.astype({"lead_id": "string", "rule": "string", "why": "string", "target_kind": "string",
                         "target": "string", "idempotency_key": "string", "fallback_used": "string",
                         "replay": "bool"}).assign(sla_due=lambda f: pd.to_datetime(f["sla_due"]))
