"""Learning tables from a spec's workspace: closed deals and accounts, as of their cutoffs.

The expressions come from :mod:`tierwise.compile.features`; this module runs
them on the workspace's engine and hands pandas frames to the learners.
Rows are sorted by key so every rerun sees the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import pandas as pd

from tierwise.compile import features as F
from tierwise.errors import DataError
from tierwise.jobs.workspace import Workspace

#: Event types used as features beyond the spec's own: the most frequent in the data.
MAX_EVENT_TYPES = 20


@dataclass
class LearningData:
    """Everything the learners read from one workspace."""

    attributes: list[F.Attribute]
    event_types: list[str]
    windows: list[int]
    deals: Any  # Ibis table of closed deals (materialised)
    n_deals: int
    n_won: int
    notes: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> dict[str, str]:
        return {a.name: a.kind for a in self.attributes}


def prepare(ws: Workspace, *, windows: list[int] | None = None, need_deals: bool = True,
            as_of: date | None = None) -> LearningData:
    """Materialise the closed deals and choose attributes and event types.

    With ``as_of``, only deals decided before it count (a back-dated run does not
    learn results that were not known yet).

    Raises :class:`DataError` when the spec has no opportunities or none is
    closed with a known result — saying what the learners need.
    """
    spec = ws.spec_file.spec
    engine = ws.engine
    accounts = ws.table("accounts")
    extra = dict(spec.data.accounts.attributes)
    attributes = F.account_attributes(accounts.schema(), extra=extra)
    opps = ws.table("opportunities")
    notes: list[str] = []
    if opps is None:
        if need_deals:
            raise DataError(f"{ws.spec_file.path}: data.opportunities is not set; ICP discovery and the propensity "
                            "model learn from closed opportunities (won and lost) — add the opportunities file")
        deals, n_deals, n_won = None, 0, 0
    else:
        decided = F.closed_deals(opps)
        if as_of is not None:
            known = decided.closed_at.notnull() & (decided.closed_at < as_of)
            decided = decided.filter(known | (decided.closed_at.isnull() & (decided.cutoff < as_of)))
        deals = engine.materialize(decided)
        n_deals = int(engine.scalar(deals.count()))
        n_won = int(engine.scalar(deals.won.cast("int64").sum().fill_null(0)))
        if need_deals and n_deals == 0:
            before = f" decided before {as_of.isoformat()}" if as_of is not None else ""
            raise DataError(f"{ws.loads['opportunities'].path}: no closed opportunity with a result{before}; "
                            "learning needs won and lost deals (is_closed true and is_won true/false, or a "
                            "'Closed Won' / 'Closed Lost' stage)")
    event_types: list[str] = []
    activities = ws.table("activities")
    if activities is not None:
        counts = engine.to_arrow(activities.group_by("event_type").aggregate(n=activities.count())
                                 .order_by([ibis.desc("n"), "event_type"])).to_pylist()
        present = [r["event_type"] for r in counts if r["event_type"]]
        in_spec = [t for t in spec.event_rules() if t in present]
        event_types = sorted(set(in_spec) | set(present[:MAX_EVENT_TYPES]))
    return LearningData(attributes, event_types, list(windows or F.EVENT_WINDOWS), deals, n_deals, n_won, notes)


def _frame(ws: Workspace, expr: Any) -> pd.DataFrame:
    return ws.engine.to_arrow(expr.order_by("key")).to_pandas()


def deal_frame(ws: Workspace, data: LearningData, *, with_events: bool = True,
               values: Any | None = None, extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per closed deal: outcome columns, account attributes and point-in-time features.

    ``values`` (account_id, ltv, nrr) adds customer value columns; ``extra_columns``
    carries account columns that are not features (attribute timestamps).
    """
    activities = ws.table("activities") if with_events else None
    expr = F.learning_table(data.deals, ws.table("accounts"), data.attributes, activities=activities,
                            event_types=data.event_types if with_events else (),
                            deals=data.deals if with_events else None, opportunities=ws.table("opportunities"),
                            windows=data.windows, extra_columns=extra_columns)
    if values is not None:
        expr = expr.left_join(values, "account_id").select(expr, values.ltv, values.nrr)
    return _frame(ws, expr)


def account_frame(ws: Workspace, data: LearningData, *, as_of: date) -> pd.DataFrame:
    """One row per account with the same features as :func:`deal_frame`, as of ``as_of``."""
    cutoffs = F.account_cutoffs(ws.table("accounts"), as_of=as_of)
    expr = F.learning_table(cutoffs, ws.table("accounts"), data.attributes, activities=ws.table("activities"),
                            event_types=data.event_types, deals=data.deals, opportunities=ws.table("opportunities"),
                            windows=data.windows)
    return _frame(ws, expr)


def customer_values(ws: Workspace, *, as_of: date) -> Any | None:
    """Per account lifetime value and NRR from transactions, or ``None`` without transactions."""
    tx = ws.table("transactions")
    if tx is None:
        return None
    return ws.engine.materialize(F.customer_value(tx, as_of=as_of))


OUTCOME_COLUMNS = ("key", "account_id", "cutoff", "closed_at", "won", "amount", "cycle_days", "ltv", "nrr")
