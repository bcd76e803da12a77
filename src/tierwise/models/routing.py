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
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

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


def _canon_list(values: Iterable[Any]) -> list[str]:
    """:func:`_canon` of every value (text passes through as is)."""
    canon = _canon
    return [x if type(x) is str else "\x00" if x is None else canon(x) for x in values]


_BOOL_TEXT = np.array(["false", "true"], dtype=object)


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

    def lead_ids(self) -> list[str]:
        """The ``lead_id`` column as text (checked for missing ids already)."""
        if self.frame is not None:
            series = self.frame["lead_id"]
            if isinstance(series, pd.Series) and isinstance(series.dtype, pd.StringDtype):
                return series.tolist()
        return [x if type(x) is str else _canon(x) for x in self.column("lead_id")]

    def canon_column(self, name: str) -> list[str]:
        """:func:`_canon` of every value of a column, vectorised for plain bool and int columns."""
        if self.frame is not None:
            if name not in self.frame.columns:
                return ["\x00"] * self.n
            series = self.frame[name]
            if isinstance(series, pd.Series):
                kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else ""
                if kind == "b":
                    return _BOOL_TEXT[series.to_numpy().view(np.uint8)].tolist()
                if kind in "iu" and kind:
                    return list(map(str, series.tolist()))
                if isinstance(series.dtype, pd.StringDtype):
                    return series.to_numpy(dtype=object, na_value="\x00").tolist()
        return _canon_list(self.column(name))

    def owners(self, idx: np.ndarray) -> np.ndarray:
        """The ``account_owner_id`` of the leads at ``idx`` as rep ids (text), ``None`` where missing."""
        if self.frame is not None and isinstance(series := self.frame["account_owner_id"], pd.Series):
            part = series.take(idx)
            if isinstance(part.dtype, pd.StringDtype):
                return part.to_numpy(dtype=object, na_value=None)
            values = part.tolist()
        else:
            column = self.column("account_owner_id")
            values = [column[i] for i in idx.tolist()]
        return np.array([None if x is None or (type(x) is float and x != x) or x is pd.NA
                         else (x if type(x) is str else _canon(x)) for x in values], dtype=object)

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

    def route_one(self, lead: Mapping[str, Any], now: datetime, *, audit: AuditLog | None = None) -> Decision:
        """:meth:`route` for a single lead: the decision, state change and log entry of ``route([lead])[0]``.

        The batch's steps, taken for one lead without the column set-up they pay for
        a batch (what the API routes, one request at a time); ``tests/models/test_routing.py``
        holds the two equal on every kind of rule, fallback, cap and replay.

        Examples
        --------
        >>> from datetime import datetime
        >>> router = Router([Route("default", None, "queue", target="nurture", sla_minutes=30)], {})
        >>> d = router.route_one({"lead_id": "L1", "created_at": datetime(2026, 3, 2, 9)}, now=datetime(2026, 3, 2, 9, 5))
        >>> d.target, d.sla_due, d.why
        ('nurture', datetime.datetime(2026, 3, 2, 9, 30), "no earlier rule matched; default rule 'default'; queue 'nurture'")
        """
        if not isinstance(lead, Mapping) or lead.get("lead_id") is None:
            raise DataError("lead #1 to route has no lead_id; every lead needs one")
        key = idempotency_key(lead, self.key_fields_)
        if audit is not None and len(audit):
            earlier = audit.seen_many([key], replay=True)[0]
            if earlier is not None:  # routed before: nothing moves
                return earlier
        batch = _Batch(None, [lead], 1)
        routes = self.routes
        r = next(s for s, route in enumerate(routes) if (route.when is None and route.when_frame is None)
                 or self._match(route, batch, 0))
        counts: dict[str, int] = self.state_["assigned"]
        explain = self._explainer()
        target: str | None = None
        code: str | None = None
        fallen = ""  # why text of the rules the lead fell through
        failed = False  # the final route's target failed: its fallback queue takes the lead
        while True:  # 1. a rule whose target cannot take the lead: its fallback, or on to the later rules
            route = routes[r]
            kind = route.target_kind
            if kind == "queue":
                target = route.target
                break
            if kind == "pool":
                if any(self._pool_open(route)):
                    break
                rep, c = None, "pool_unavailable"
            elif kind == "owner":
                rep = target = route.target
                c = self._availability(rep)
            elif "account_owner_id" not in lead:
                rep, c = None, "no_owner"
            else:
                raw = lead["account_owner_id"]
                rep = target = None if raw is None or (type(raw) is float and raw != raw) or raw is pd.NA \
                    else (raw if type(raw) is str else _canon(raw))
                c = "no_owner" if rep is None else self._availability(rep)
            if c is None:
                break
            code = code or c
            if route.fallback:
                failed, target = True, route.fallback
                fallen += f"{explain(r, rep, c)}, so it went to fallback queue '{route.fallback}'"
                break
            fallen += f"{explain(r, rep, c)}, and the rule has no fallback; "
            target = None
            r = self._next_match(batch, {}, r, 0)
        route = routes[r]
        if failed:
            if route.target_kind == "pool":
                logger.warning("pool '%s': %d lead(s) went to a fallback queue because no rep was available "
                               "(inactive, out of office or at cap)", route.pool_name, 1)
        elif route.target_kind in ("owner", "account_owner"):  # 2. direct assignments count
            counts[target] = counts.get(target, 0) + 1  # type: ignore[index]
        elif route.target_kind == "pool":  # 3. the next open rep after the pool's cursor
            members, ok = route.pool, self._pool_open(route)
            cursor: dict[str, str] = self.state_["cursor"]
            last = cursor.get(route.pool_name)
            pos = members.index(last) if last in members else -1  # type: ignore[union-attr]
            open_at = [j for j, good in enumerate(ok) if good]
            target = members[next((j for j in open_at if j > pos), open_at[0])]  # type: ignore[index]
            counts[target] = counts.get(target, 0) + 1
            cursor[route.pool_name] = target
        why = fallen if failed else fallen + explain(r, target, None)  # 4. why
        due = None
        if route.sla_minutes is not None:
            start = self._created([lead["created_at"]], now)[0] if "created_at" in lead else now
            due = start + timedelta(minutes=float(route.sla_minutes))
        decision = Decision(batch.lead_ids()[0], route.name, why, "queue" if failed else route.target_kind, target,
                            due, now, key, code, False)
        if audit is not None:
            _, skipped = audit.record([decision], state=self.state_)
            if skipped:  # another process logged this key first: its decision stands
                logged = audit.seen(key)
                if logged is not None and logged != decision:
                    return _as_replay(logged)
        return decision

    def _pool_open(self, route: Route) -> list[bool]:
        """Per rep of a pool route: can take a lead (active, in office, under cap)."""
        counts: dict[str, int] = self.state_["assigned"]
        out = []
        for m in route.pool:  # type: ignore[union-attr]
            rep = self.reps.get(m)
            out.append(self._availability(m) is None and (rep.cap is None or counts.get(m, 0) < rep.cap))  # type: ignore[union-attr]
        return out

    def _route(self, leads: Sequence[Mapping[str, Any]] | pd.DataFrame, now: datetime,
               audit: AuditLog | None) -> list[Decision]:
        batch = self._batch(leads)
        n = batch.n
        lead_ids = batch.lead_ids()
        keys = self._keys(batch, lead_ids)
        earlier = audit.seen_many(keys, replay=True) if audit is not None and len(audit) else None
        repeats: dict[int, int] = {}  # position -> the earlier position in this batch it repeats
        todo = np.ones(n, dtype=bool)
        if earlier is not None:
            todo = np.fromiter(map(operator.is_, earlier, repeat(None)), dtype=bool, count=n)
        new = keys if earlier is None else list(map(keys.__getitem__, np.flatnonzero(todo).tolist()))
        if len(set(new)) != len(new):  # a lead repeated within the batch: routed once
            first: dict[str, int] = {}
            for i in np.flatnonzero(todo).tolist():
                key = keys[i]
                j = first.setdefault(key, i)
                if j != i:
                    repeats[i] = j
            todo[list(repeats)] = False
        choice, masks = self._choose(batch, todo)
        final, target, code, why, failed = self._assign(batch, choice, masks)
        rule = np.array([r.name for r in self.routes] + [""], dtype=object)[final]
        kind = np.array([r.target_kind for r in self.routes] + [""], dtype=object)[final]
        kind[failed] = "queue"
        due, due_text = self._sla_due(batch, final, now)
        columns = {"lead_id": lead_ids, "rule": rule.tolist(), "why": why, "target_kind": kind.tolist(),
                   "target": target, "sla_due": due, "idempotency_key": keys, "fallback_used": code}
        fresh_at = None if todo.all() else np.flatnonzero(todo)
        if fresh_at is not None:  # keep the leads routed here
            pick = fresh_at.tolist()
            columns = {name: list(map(values.__getitem__, pick)) for name, values in columns.items()}
            if due_text is not None:
                due_text = tuple(part[fresh_at] if isinstance(part, np.ndarray) else part for part in due_text)
        m = len(columns["lead_id"])
        decisions = _make_decisions(columns["lead_id"], columns["rule"], columns["why"], columns["target_kind"],
                                    columns["target"], columns["sla_due"], repeat(now, m),
                                    columns["idempotency_key"], columns["fallback_used"], repeat(False, m))
        if fresh_at is None:
            out = decisions
        else:
            out = earlier if earlier is not None else [None] * n  # type: ignore[assignment]
            for i, d in zip(pick, decisions, strict=True):
                out[i] = d
            for i, j in repeats.items():
                out[i] = _as_replay(out[j])  # type: ignore[arg-type]
        if audit is not None:
            # the few-valued fields as codes, so the log need not look every value up
            routed = final if fresh_at is None else final[fresh_at]
            columns["rule"] = (routed, [r.name for r in self.routes])  # type: ignore[assignment]
            columns["target_kind"] = (np.where(failed if fresh_at is None else failed[fresh_at], len(self.routes),
                                               routed), [r.target_kind for r in self.routes] + ["queue"])
            columns["decided_at"] = now  # one value for the whole batch
            columns["sla_due_text"] = due_text  # type: ignore[assignment]
            columns["distinct_keys"] = True  # type: ignore[assignment]  # repeats are replays, not routed
            _, skipped = audit.record(decisions, state=self.state_, _columns=columns)
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
        columns = [lead_ids] + [batch.canon_column(f) for f in self.key_fields_]
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

    def _sla_due(self, batch: _Batch, final: np.ndarray, now: datetime
                 ) -> tuple[list[datetime | None], tuple[np.ndarray, np.ndarray, str] | None]:
        """``created_at`` (the decision time when missing) plus the SLA of each lead's final route.

        Also, when they come cheap, the same times as ``(wall clock in microseconds
        since 1970, has an SLA, UTC offset text)``: what the audit log writes.
        """
        minutes = np.array([np.nan if r.sla_minutes is None else r.sla_minutes for r in self.routes] + [np.nan])
        per_lead = minutes[final]  # final == -1 (replays) picks the trailing nan
        has = ~np.isnan(per_lead)
        n = batch.n
        if not has.any():
            return [None] * n, (np.zeros(n, dtype=np.int64), has, "")
        if not batch.has("created_at"):
            at = {m: now + timedelta(minutes=m) for m in set(per_lead[has].tolist())}
            out = [at[m] if ok else None for m, ok in zip(per_lead.tolist(), has.tolist(), strict=True)]
            suffix = _offset_text(now.tzinfo) if type(now) is datetime else None
            if suffix is None:
                return out, None
            wall = (now.replace(tzinfo=None) - _EPOCH) // _MICROSECOND
            return out, (wall + np.where(has, per_lead, 0).astype(np.int64) * 60_000_000, has, suffix)
        column = batch.frame["created_at"] if batch.frame is not None else None
        if column is not None and pd.api.types.is_datetime64_any_dtype(column):
            try:
                base = pd.DatetimeIndex(column).fillna(pd.Timestamp(now))
            except (TypeError, ValueError) as exc:
                raise DataError(f"created_at has time zone {column.dt.tz} but now ({now.isoformat()}) "
                                f"{'has none' if now.tzinfo is None else 'has one'}; give both or neither") from exc
            due = base + pd.to_timedelta(np.where(has, per_lead, 0), unit="min")
            wall = _wall_micros(due)
            suffix = "" if due.tz is None else _offset_text(due.tz)
            if wall is not None and due.tz is None:  # datetimes straight from the microseconds
                objects = wall.view("M8[us]").astype(object)
            else:
                objects = due.to_pydatetime()
            objects[~has] = None
            return objects.tolist(), (None if wall is None or suffix is None else (wall, has, suffix))
        created = self._created(batch.column("created_at"), now)
        deltas = {m: timedelta(minutes=m) for m in set(per_lead[has].tolist())}
        return [c + deltas[m] if ok else None
                for c, m, ok in zip(created, per_lead.tolist(), has.tolist(), strict=True)], None

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
        their leads round-robin in lead order. Leads are handled in groups (per
        rule, and per owner or pool rep), not one by one.
        """
        n = batch.n
        routes = self.routes
        counts: dict[str, int] = self.state_["assigned"]
        cursor: dict[str, str] = self.state_["cursor"]
        avail = {rid: self._availability(rid) for rid in self.reps}
        final = choice.copy()
        target = np.full(n, None, dtype=object)
        code = np.full(n, None, dtype=object)
        fallen = np.full(n, "", dtype=object)  # why text of the rules each lead fell through
        failed = np.zeros(n, dtype=bool)  # the final route's target failed: its fallback queue takes the lead
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
        fell_through = False  # some lead went on past a rule whose target failed

        # 1. settle static failures, rule by rule; leads moving on only go to later rules
        for r, route in enumerate(routes):
            idx = np.flatnonzero(final == r)
            if not len(idx):
                continue
            kind = route.target_kind
            if kind == "queue":
                target[idx] = route.target
                continue
            # the leads the target cannot take: positions, and per position the rep and the reason code
            if kind == "pool":
                if any(pools[route.pool_name]["ok"]):
                    continue
                bad, groups, group_of = idx, [(None, "pool_unavailable")], np.zeros(len(idx), dtype=np.intp)
            elif kind == "owner":
                target[idx] = route.target
                c = avail.get(route.target, "owner_unknown")  # type: ignore[arg-type]
                if c is None:
                    continue
                bad, groups, group_of = idx, [(route.target, c)], np.zeros(len(idx), dtype=np.intp)
            elif not batch.has("account_owner_id"):
                bad, groups, group_of = idx, [(None, "no_owner")], np.zeros(len(idx), dtype=np.intp)
            else:
                mine = batch.owners(idx)
                target[idx] = mine
                number, distinct = _factorize(mine)  # no owner: -1, the last group below
                groups = [(o, avail.get(o, "owner_unknown")) for o in distinct] + [(None, "no_owner")]
                cannot = np.array([c is not None for _, c in groups])[number]
                if not cannot.any():
                    continue
                bad, group_of = idx[cannot], number[cannot]
                group_of[group_of < 0] = len(groups) - 1
            reason = np.array([c for _, c in groups], dtype=object)[group_of]
            fresh = np.equal(code[bad], None)
            code[bad[fresh]] = reason[fresh]
            if route.fallback:
                text = [f"{explain(r, rep, c)}, so it went to fallback queue '{route.fallback}'" if c else ""
                        for rep, c in groups]
                failed[bad] = True
                target[bad] = route.fallback
                fallen[bad] = fallen[bad] + np.array(text, dtype=object)[group_of]
            else:
                fell_through = True
                text = [f"{explain(r, rep, c)}, and the rule has no fallback; " if c else "" for rep, c in groups]
                fallen[bad] = fallen[bad] + np.array(text, dtype=object)[group_of]
                final[bad] = self._next_matches(batch, masks, r, bad)
                target[bad] = None

        # 2. direct assignments count
        used = np.bincount(final + 1, minlength=len(routes) + 1)[1:].tolist()  # leads per rule
        for r, route in enumerate(routes):
            if used[r] and route.target_kind in ("owner", "account_owner"):
                taken = target[(final == r) & ~failed]
                if len(taken):
                    for rep, k in Counter(taken.tolist()).items():
                        counts[rep] = counts.get(rep, 0) + k

        # 3. pools, round-robin in lead order
        pool_rules = {r: route.pool_name for r, route in enumerate(routes) if route.target_kind == "pool"}
        if pool_rules:
            names = list(pools)
            pool_of = np.full(len(routes) + 1, -1)  # per rule (and -1 for leads not routed here): its pool's number
            pool_of[list(pool_rules)] = [names.index(name) for name in pool_rules.values()]
            in_pool = (pool_of[final] >= 0) & ~failed
            for k, p in enumerate(pools.values()):
                p["leads"] = np.flatnonzero(in_pool & (pool_of[final] == k))
            binding = any(
                c is not None and ok and counts.get(m, 0) + sum(len(p["leads"]) for p in pools.values()
                                                                 if m in p["members"]) > c
                for p in pools.values() for m, c, ok in zip(p["members"], p["caps"], p["ok"], strict=True))
            if binding and self._fill_pools_by_phase(pools, pool_rules, final, target, code, failed, fallen,
                                                     explain, counts):
                pass
            elif binding:  # lead by lead, on lists (cheaper to index one by one than arrays)
                fell_through = True
                lists = [final.tolist(), target.tolist(), code.tolist(), failed.tolist(), fallen.tolist()]
                self._fill_pools_in_order(batch, masks, pools, pool_rules, lists[0], lists[1], lists[2], lists[3],
                                          lists[4], explain, np.flatnonzero(in_pool).tolist(), counts)
                final[:], failed[:] = lists[0], lists[3]
                for array, values in zip((target, code, fallen), lists[1:3] + lists[4:], strict=True):
                    array[:] = values
            else:
                for name, p in pools.items():
                    leads = p["leads"]
                    if not len(leads):
                        continue
                    members = p["members"]
                    ok_at = [j for j, ok in enumerate(p["ok"]) if ok]
                    start = next((k for k, j in enumerate(ok_at) if j > p["pos"]), 0)
                    picks = np.asarray(ok_at)[(start + np.arange(len(leads))) % len(ok_at)]
                    target[leads] = np.array(members, dtype=object)[picks]
                    for j, k in enumerate(np.bincount(picks, minlength=len(members)).tolist()):
                        if k:
                            counts[members[j]] = counts.get(members[j], 0) + k
                    cursor[name] = members[int(picks[-1])]
            gone = final[failed]
            gone = gone[pool_of[gone] >= 0]
            lost: dict[str, int] = {}
            if len(gone):
                rules, first, k = np.unique(gone, return_index=True, return_counts=True)
                for at in np.argsort(first, kind="stable").tolist():  # pools in the order their first lead was lost
                    name = pool_rules[int(rules[at])]
                    lost[name] = lost.get(name, 0) + int(k[at])
            for name, k in lost.items():
                logger.warning("pool '%s': %d lead(s) went to a fallback queue because no rep was available "
                               "(inactive, out of office or at cap)", name, k)

        # 4. why
        why = np.full(n, "", dtype=object)
        why[failed] = fallen[failed]
        served = (final >= 0) & ~failed
        used = np.bincount(final + 1, minlength=len(routes) + 1)[1:].tolist()
        for r in range(len(routes)):
            if not used[r]:
                continue
            at = np.flatnonzero(served & (final == r))
            if not len(at):
                continue
            if routes[r].target_kind in ("queue", "owner"):  # one target for all
                why[at] = explain(r, target[at[0]], None)
                continue
            number, distinct = _factorize(target[at])
            text = [explain(r, t, None) for t in distinct]
            if (number < 0).any():  # pragma: no cover - every served lead has a target
                number[number < 0] = len(text)
                text.append(explain(r, None, None))
            why[at] = np.array(text, dtype=object)[number]
        if fell_through:
            fell = np.flatnonzero(served)
            fell = fell[np.not_equal(fallen[fell], "")]
            why[fell] = fallen[fell] + why[fell]
        return final, target.tolist(), code.tolist(), why.tolist(), failed

    def _next_matches(self, batch: _Batch, masks: dict[int, np.ndarray], r: int, idx: np.ndarray) -> np.ndarray:
        """:meth:`_next_match` for many leads: by whole columns when the later rules are vectorised."""
        routes = self.routes
        if batch.frame is None or any(route.when_frame is None for route in routes[r + 1:-1]):
            return np.array([self._next_match(batch, masks, r, i) for i in idx.tolist()], dtype=np.int64)
        out = np.full(len(idx), len(routes) - 1, dtype=np.int64)
        left = np.arange(len(idx))
        for s in range(r + 1, len(routes) - 1):
            if not len(left):
                break
            route = routes[s]
            if s not in masks:
                masks[s] = _as_mask(route.when_frame(batch.frame), batch.n, route.name)  # type: ignore[misc]
            hit = masks[s][idx[left]]
            out[left[hit]] = s
            left = left[~hit]
        return out

    def _fill_pools_by_phase(self, pools: dict[str, dict[str, Any]], pool_rules: dict[int, str], final: np.ndarray,
                             target: np.ndarray, code: np.ndarray, failed: np.ndarray, fallen: np.ndarray,
                             explain: Callable[..., str], counts: dict[str, int]) -> bool:
        """:meth:`_fill_pools_in_order` by stretches of leads instead of lead by lead, when pools cannot affect
        each other (no rep in two pools with leads) and every pool rule has a fallback queue; ``False`` (and
        nothing done) otherwise.

        Between two moments a rep reaches their cap, a pool is a plain round-robin over its reps still
        available: each such stretch is handed out at once, and the leads left once every rep is full go to
        the fallback queue of their rule.
        """
        members = [m for p in pools.values() if len(p["leads"]) for m in p["members"]]  # a rep listed twice
        # shares one cap between two places in the rotation: lead by lead then
        if len(members) != len(set(members)) or not all(self.routes[r].fallback for r in pool_rules):
            return False
        moved: list[tuple[int, str, str]] = []  # (first lead served, pool, last rep assigned)
        for name, p in pools.items():
            leads = p["leads"]
            if not len(leads):
                continue
            reps, caps, ok = p["members"], p["caps"], p["ok"]
            picked = np.full(len(leads), -1, dtype=np.intp)  # member number per lead; -1: every rep full
            done, pos = 0, p["pos"]
            while done < len(leads):
                left = [j for j, good in enumerate(ok)
                        if good and (caps[j] is None or counts.get(reps[j], 0) < caps[j])]
                if not left:
                    break
                start = next((k for k, j in enumerate(left) if j > pos), 0)
                order = left[start:] + left[:start]
                k = len(order)
                # the t-th rep in turn takes leads t, t + k, t + 2k, ...: the stretch ends when one is full
                ends = [t + (caps[j] - counts.get(reps[j], 0) - 1) * k for t, j in enumerate(order)
                        if caps[j] is not None]
                take = min(len(leads) - done, min(ends) + 1 if ends else len(leads))
                turn = np.arange(take) % k
                picked[done:done + take] = np.asarray(order)[turn]
                for t, n_taken in enumerate(np.bincount(turn, minlength=k).tolist()):
                    if n_taken:
                        counts[reps[order[t]]] = counts.get(reps[order[t]], 0) + n_taken
                pos = order[(take - 1) % k]
                done += take
            served = picked >= 0
            if served.any():
                target[leads[served]] = np.array(reps, dtype=object)[picked[served]]
                p["pos"] = pos
                moved.append((int(leads[served][0]), name, reps[pos]))
            full = leads[~served]
            if len(full):  # every rep of the pool at cap (or unavailable): the rule's fallback queue
                fresh = full[np.equal(code[full], None)]
                code[fresh] = "pool_unavailable"
                failed[full] = True
                for r in np.unique(final[full]).tolist():
                    route = self.routes[r]
                    mine = full[final[full] == r]
                    target[mine] = route.fallback
                    fallen[mine] = fallen[mine] + (f"{explain(r, None, 'pool_unavailable')}, "
                                                   f"so it went to fallback queue '{route.fallback}'")
        cursor: dict[str, str] = self.state_["cursor"]
        for _, name, rep in sorted(moved):  # a new pool enters the state when it first serves a lead
            cursor[name] = rep
        return True

    def _fill_pools_in_order(self, batch: _Batch, masks: dict[int, np.ndarray], pools: dict[str, dict[str, Any]],
                             pool_rules: dict[int, str], final: list[int], target: list[str | None],
                             code: list[str | None], failed: list[bool], fallen: list[str],
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
                        fallen[i] = (f"{fallen[i]}{explain(r, None, 'pool_unavailable')}, "
                                     f"so it went to fallback queue '{route.fallback}'")
                        break
                    fallen[i] = f"{fallen[i]}{explain(r, None, 'pool_unavailable')}, and the rule has no fallback; "
                    r = self._next_match(batch, masks, r, i)
                    if r in pool_rules:
                        continue
                    final[i] = r  # a queue, owner or account owner: settle it like step 1 would
                    self._settle_direct(r, i, target, code, failed, fallen, explain, batch, masks, final, counts)
                break

    def _settle_direct(self, r: int, i: int, target: list[str | None], code: list[str | None], failed: list[bool],
                       fallen: list[str], explain: Callable[..., str], batch: _Batch,
                       masks: dict[int, np.ndarray], final: list[int], counts: dict[str, int]) -> None:
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
                fallen[i] = f"{fallen[i]}{explain(r, rep, c)}, so it went to fallback queue '{route.fallback}'"
                return
            fallen[i] = f"{fallen[i]}{explain(r, rep, c)}, and the rule has no fallback; "
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


def _make_decisions(*columns: Iterable[Any]) -> list[Decision]:
    """Decisions from their fields as columns (in :class:`Decision` field order), without a call per decision."""
    return list(map(tuple.__new__, repeat(Decision), zip(*columns, strict=True)))


def _factorize(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes and distinct values (in order of appearance) of text or ``None`` values; ``None`` is coded -1."""
    if len(values) >= 1024:
        codes, distinct = pd.factorize(values)
        return codes, distinct.tolist()
    seen: dict[Any, int] = {}
    codes = np.fromiter((-1 if v is None else seen.setdefault(v, len(seen)) for v in values.tolist()),
                        dtype=np.intp, count=len(values))
    return codes, list(seen)


def _as_mask(values: Any, n: int, name: str) -> np.ndarray:
    if isinstance(values, pd.Series):
        values = values.fillna(False).to_numpy()
    mask = np.asarray(values)
    if mask.shape != (n,):
        raise DataError(f"rule '{name}': the vectorised condition gave {mask.shape} values for {n} leads")
    return mask.astype(bool)


_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_MIN_MICROS = (datetime.min - _EPOCH) // _MICROSECOND
_MAX_MICROS = (datetime.max - _EPOCH) // _MICROSECOND


def _offset_text(tz: Any) -> str | None:
    """What ``isoformat`` appends for a fixed time zone (``""`` without one); ``None`` when it varies."""
    if tz is None:
        return ""
    if type(tz) is timezone:
        return datetime(2000, 1, 1, tzinfo=tz).isoformat()[19:]
    return None


def _wall_micros(index: pd.DatetimeIndex) -> np.ndarray | None:
    """Wall-clock microseconds since 1970 of each time; ``None`` if some are not whole microseconds or lie
    beyond what ``datetime`` holds."""
    if index.tz is not None:
        index = index.tz_localize(None)
    values = index.asi8
    unit = index.unit
    if unit == "ns":
        return None if (values % 1000).any() else values // 1000
    factor = {"s": 1_000_000, "ms": 1000, "us": 1}.get(unit)
    if factor is None or (len(values) and (values.min() < -(-_MIN_MICROS // factor)
                                            or values.max() > _MAX_MICROS // factor)):
        return None
    return values * factor


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


#: Lists at least this long get the whole-column path of :func:`decisions_frame`.
_MANY = 256


def _naive_micros(values: list[Any]) -> np.ndarray | None:
    """Datetimes without a zone (or ``None``) as ``datetime64[us]`` (NaT for ``None``); ``None`` if any value
    is something else, or all are ``None``."""
    kinds = set(map(type, values))
    if datetime not in kinds or not kinds <= {datetime, type(None)}:
        return None
    if any(map(getattr, values, repeat("tzinfo"), repeat(None))):
        return None
    return pa.array(values, type=pa.timestamp("us")).to_numpy(zero_copy_only=False)


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
    decisions = decisions if isinstance(decisions, list) else list(decisions)
    if len(decisions) >= _MANY:
        frame = _decisions_frame(decisions)
        if frame is not None:
            return frame
    frame = pd.DataFrame(decisions, columns=list(Decision._fields))
    # typed even when a column is all empty (no SLA, no fallback), so engines can store it
    return frame.astype({"lead_id": "string", "rule": "string", "why": "string", "target_kind": "string",
                         "target": "string", "idempotency_key": "string", "fallback_used": "string",
                         "replay": "bool"}).assign(sla_due=lambda f: pd.to_datetime(f["sla_due"]))


_TEXT_FIELDS = ("lead_id", "rule", "why", "target_kind", "target", "idempotency_key", "fallback_used")


def _decisions_frame(decisions: list[Decision]) -> pd.DataFrame | None:
    """:func:`decisions_frame` a column at a time through Arrow; ``None`` unless every text field is text
    (or ``None``) and every time a datetime without a zone (the general path types anything else)."""
    n = len(decisions)
    columns: dict[str, Any] = {}
    for k, name in enumerate(Decision._fields):
        values = list(map(operator.itemgetter(k), decisions))
        if name in _TEXT_FIELDS:
            try:
                text = pa.array(values, type=pa.string())
            except (pa.ArrowException, TypeError, ValueError, UnicodeError):
                return None
            columns[name] = pd.array(text, dtype="string")
        elif name == "replay":
            columns[name] = np.fromiter(values, dtype=bool, count=n)
        else:
            first = values[0]
            if type(first) is datetime and first.tzinfo is None and all(map(operator.is_, values, repeat(first))):
                columns[name] = np.full(n, np.datetime64(first, "us"))
            else:
                times = _naive_micros(values)
                if times is None:
                    return None
                columns[name] = times
    frame = pd.DataFrame(columns)
    if frame.dtypes["lead_id"] != _STRING_DTYPE:  # pragma: no cover - another pandas string default
        return None
    return frame


_STRING_DTYPE = pd.Series([], dtype="string").dtype
