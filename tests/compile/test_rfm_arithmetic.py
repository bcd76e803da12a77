"""RFM arithmetic (docs/rfm.md) against hand-computed values: purchases and returns, quintile scores with
ties, the segment map, health and the segment-change tasks."""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import numpy as np
import pytest

from tierwise.compile.rfm import (
    add_health,
    change_tasks,
    customer_summary,
    quintile_score,
    score_and_segment,
    task_order,
    usage_trend,
)
from tierwise.spec.model import HealthSpec, RfmSpec

AS_OF = date(2026, 11, 1)


def day(n: int) -> date:
    return AS_OF - timedelta(days=n)


def tx(*rows: tuple) -> ibis.Table:
    """(account_id, order_id, days before AS_OF, amount) rows."""
    return ibis.memtable({
        "account_id": [r[0] for r in rows], "order_id": [r[1] for r in rows],
        "occurred_at": [day(r[2]) for r in rows], "amount": [r[3] for r in rows],
    }, schema={"account_id": "string", "order_id": "string", "occurred_at": "date", "amount": "float64"})


def by_key(rows_of, expr) -> dict[str, dict]:
    return {r["account_id"]: r for r in rows_of(expr)}


ROWS = (
    ("A", "o1", 30, 100.0),
    ("A", "o2", 10, 60.0),    # two lines of one order
    ("A", "o2", 10, 40.0),
    ("A", "o2", 3, -25.0),    # a return later under the same order: lowers monetary, not more recent
    ("A", "o3", 10, 5.0),     # a second order the same day
    ("B", None, 20, 10.0),    # lines without an order: one order a day
    ("B", None, 20, 15.0),
    ("B", None, 5, 0.0),      # a zero amount is a purchase
    ("C", "o9", 12, -30.0),   # only a credit: not a customer to score
    ("D", "o4", -2, 500.0),   # after as_of: ignored
    ("D", "o5", 40, 70.0),
    ("E", "o6", 8, None),     # no amount: ignored
)


@pytest.mark.parametrize(("mode", "a_freq", "b_freq"), [("orders", 3, 2), ("transactions", 4, 3), ("days", 2, 2)])
def test_recency_frequency_monetary_by_hand(rows_of, mode, a_freq, b_freq):
    got = by_key(rows_of, customer_summary(tx(*ROWS), AS_OF, mode))
    assert set(got) == {"A", "B", "D"}  # C has only a credit, E only a row without an amount
    a = got["A"]
    days = None if mode == "orders" else 2  # not counted with orders: the CLV models count orders then
    assert (a["recency_days"], a["age_days"], a["frequency"], a["purchase_days"]) == (10, 30, a_freq, days)
    assert a["monetary"] == 180.0 and a["return_lines"] == 1 and a["returned_amount"] == 25.0
    assert a["first_purchase"] == day(30) and a["last_purchase"] == day(10)
    b = got["B"]
    assert (b["recency_days"], b["frequency"], b["purchase_days"], b["monetary"]) == (5, b_freq, days, 25.0)
    d = got["D"]
    assert (d["recency_days"], d["frequency"], d["monetary"]) == (40, 1, 70.0)


def test_customers_with_returns_only_are_kept_when_asked(rows_of):
    got = by_key(rows_of, customer_summary(tx(*ROWS), AS_OF, "orders", keep_returns_only=True))
    assert got["C"]["first_purchase"] is None and got["C"]["monetary"] == -30.0
    assert got["C"]["returned_amount"] == 30.0


def test_unknown_frequency_mode_is_refused():
    with pytest.raises(ValueError, match="frequency must be one of"):
        customer_summary(tx(*ROWS), AS_OF, "weeks")


# --------------------------------------------------------------------------- scores


def scores_of(rows_of, values: list[float], descending: bool = False) -> list[int]:
    t = ibis.memtable({"k": [str(i) for i in range(len(values))], "v": values})
    n = t.k.count().over(ibis.window())
    expr = t.mutate(s=quintile_score(ibis.desc(t.v) if descending else t.v, n)).order_by(t.k.cast("int64"))
    return [r["s"] for r in rows_of(expr)]


def test_quintiles_of_ten_distinct_values_are_two_per_score(rows_of):
    assert scores_of(rows_of, list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores_of(rows_of, list(range(10)), descending=True) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_equal_values_always_get_the_same_score(rows_of):
    # percent_rank of the ties is 0: all score 1; the top value 5
    assert scores_of(rows_of, [7, 7, 7, 7, 7, 7, 9]) == [1, 1, 1, 1, 1, 1, 5]
    assert scores_of(rows_of, [3.0] * 5) == [1] * 5
    assert scores_of(rows_of, [42.0]) == [1]  # one customer: percent_rank 0


def test_scores_equal_sql_percent_rank_formula_on_random_ties(engine):
    """Exactly ``min(5, 1 + floor(5 * PERCENT_RANK()))`` as SQL computes it, for many sizes with ties."""
    rng = np.random.default_rng(3)
    for n in (2, 3, 4, 5, 6, 7, 11, 99, 100, 101, 997, 5000):
        values = rng.integers(0, max(2, n // 3), n).astype(float)
        t = engine.register({"k": np.arange(n), "v": values})
        count = t.k.count().over(ibis.window())
        expr = t.mutate(ours=quintile_score(t.v, count),
                        sql=ibis.least(5, 1 + (5 * ibis.percent_rank().over(order_by=t.v)).floor()).cast("int64"))
        rows = engine.to_arrow(expr).to_pylist()
        assert all(r["ours"] == r["sql"] for r in rows), n
        by_value: dict[float, set[int]] = {}
        for r in rows:
            by_value.setdefault(r["v"], set()).add(r["ours"])
        assert all(len(s) == 1 for s in by_value.values()), n


def test_most_recent_customers_score_highest_on_recency(rows_of):
    rows = [(f"C{i}", f"o{i}", 10 * i + 1, 10.0 * (i + 1)) for i in range(10)]
    got = by_key(rows_of, score_and_segment(customer_summary(tx(*rows), AS_OF, "orders"), RfmSpec()))
    assert [got[f"C{i}"]["r_score"] for i in range(10)] == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert [got[f"C{i}"]["m_score"] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert {got[f"C{i}"]["f_score"] for i in range(10)} == {1}  # everyone bought once: a tie
    assert got["C0"]["rfm_cell"] == "511" and got["C0"]["segment"] == "New"


def test_monetary_sums_tie_whatever_the_order_of_addition(rows_of):
    # 0.1 + 0.2 != 0.2 + 0.1 + 0.0 in floating point; rounded to the cent they tie
    rows = [("A", "a1", 1, 0.1), ("A", "a2", 2, 0.2), ("B", "b1", 1, 0.2), ("B", "b2", 2, 0.1), ("B", "b3", 3, 0.0)]
    got = by_key(rows_of, customer_summary(tx(*rows), AS_OF, "days"))
    assert got["A"]["monetary"] == got["B"]["monetary"] == 0.3


# --------------------------------------------------------------------------- the segment map


def test_default_map_covers_all_125_combinations_exactly_once():
    spec = RfmSpec()
    cells = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    owners = {cell: [s.name for s in spec.segments if s.matches(*cell)][:1] for cell in cells}
    assert all(len(v) == 1 for v in owners.values())
    resolved = spec.cell_map()
    assert sorted(resolved) == cells  # every combination, once
    assert len(set(resolved.values())) == len(spec.segments)  # every segment reachable
    assert all(s.motion for s in spec.segments)


def test_default_map_is_the_seed_map_first():
    resolved = RfmSpec().cell_map()

    def cells(r, f, m):
        return {(a, b, c) for a in r for b in f for c in m}

    assert {k for k, v in resolved.items() if v == "Champions"} == {(5, 5, 5)}
    assert {k for k, v in resolved.items() if v == "Loyal"} == cells((4, 5), (4, 5), (3, 4, 5)) - {(5, 5, 5)}
    assert {k for k, v in resolved.items() if v == "At-Risk"} == cells((1, 2), (4, 5), (3, 4, 5))
    assert {k for k, v in resolved.items() if v == "New"} == cells((4, 5), (1, 2), (1, 2))
    assert {k for k, v in resolved.items() if v == "Lost"} == cells((1, 2), (1, 2), (1, 2))
    motions = {s.name: s.motion for s in RfmSpec().segments}
    assert motions["Champions"] == "referral asks and case studies"
    assert motions["Loyal"] == "expansion and upsell"
    assert motions["At-Risk"] == "retention outreach and QBR"
    assert motions["New"].startswith("onboarding") and motions["Lost"] == "win-back campaign"


def test_segment_expression_agrees_with_the_resolved_map(rows_of):
    cells = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    t = ibis.memtable({"r_score": [c[0] for c in cells], "f_score": [c[1] for c in cells],
                       "m_score": [c[2] for c in cells]})
    from tierwise.compile.rfm import segment_condition

    spec = RfmSpec()
    segment = ibis.cases(*[(segment_condition(s, t.r_score, t.f_score, t.m_score), s.name) for s in spec.segments])
    got = {(r["r_score"], r["f_score"], r["m_score"]): r["segment"] for r in rows_of(t.mutate(segment=segment))}
    assert got == spec.cell_map()


# --------------------------------------------------------------------------- health


def scored(rows_of, **cols) -> ibis.Table:
    n = len(cols["account_id"])
    base = {"r_score": [3] * n, "f_score": [3] * n, "m_score": [3] * n}
    return ibis.memtable({**base, **cols})


def test_health_from_rfm_alone_counts_recency_double(rows_of):
    t = scored(rows_of, account_id=["A", "B", "C", "D"], r_score=[5, 1, 5, 1], f_score=[5, 5, 1, 1],
               m_score=[5, 5, 1, 1])
    got = by_key(rows_of, add_health(t, HealthSpec()))
    # 100 * (2 (r-1) + (f-1) + (m-1)) / 16
    assert [got[k]["health_score"] for k in "ABCD"] == [100.0, 50.0, 50.0, 0.0]
    assert [got[k]["health_band"] for k in "ABCD"] == ["healthy", "watch", "watch", "at risk"]
    assert got["A"]["usage_trend"] is None and got["A"]["open_issues"] is None


def test_health_weights_the_parts_present_for_each_customer(rows_of):
    health = HealthSpec.model_validate({"usage": {"field": "usage_trend"}, "support": {"field": "tickets"}})
    accounts = ibis.memtable({"account_id": ["A", "B", "C"], "usage_trend": [0.25, None, -0.5],
                              "tickets": [0, 10, None]})
    t = scored(rows_of, account_id=["A", "B", "C"])  # RFM part 50
    got = by_key(rows_of, add_health(t, health, accounts=accounts))
    # A: (60*50 + 25*75 + 15*100) / 100; B: usage missing -> (60*50 + 15*0) / 75; C: (60*50 + 25*0) / 85
    assert got["A"]["health_score"] == 63.8
    assert got["B"]["health_score"] == 40.0 and got["B"]["open_issues"] == 10
    assert got["C"]["health_score"] == round(3000 / 85, 1) and got["C"]["usage_trend"] == -0.5


def test_usage_trend_from_events(rows_of):
    def ts(n):
        return day(n).isoformat() + " 12:00:00"

    events = ibis.memtable({
        "account_id": ["A", "A", "A", "B", "C", "C", "D", "A"],
        "event_type": ["login"] * 7 + ["page_view"],
        "occurred_at": [ts(1), ts(5), ts(40), ts(70), ts(3), ts(4), ts(-3), ts(2)],
    }).mutate(occurred_at=ibis._.occurred_at.cast("timestamp"))
    u = by_key(rows_of, usage_trend(events, ["login"], 30, AS_OF))
    assert u["A"]["_trend"] == 1.0            # 2 in the last 30 days against 1 before
    assert u["B"]["_trend"] == -1.0           # used the product before, not lately
    assert u["C"]["_trend"] is None and u["C"]["_rising"]  # from nothing to something
    assert "D" not in u                       # only an event after as_of
    t = scored(rows_of, account_id=["A", "B", "C", "E"])
    got = by_key(rows_of, add_health(t, HealthSpec.model_validate({"usage": {"events": ["login"]}}),
                                     usage=usage_trend(events, ["login"], 30, AS_OF)))
    # usage part: A min(100, 50 + 50*1/0.5) = 100; B 0; C 100 (rising); E missing -> RFM alone
    assert [got[k]["health_score"] for k in "ABCE"] == [round((60 * 50 + 25 * 100) / 85, 1),
                                                        round(60 * 50 / 85, 1), round((60 * 50 + 25 * 100) / 85, 1),
                                                        50.0]


# --------------------------------------------------------------------------- segment-change tasks


def current(**cols) -> ibis.Table:
    n = len(cols["account_id"])
    base = {"r_score": [1] * n, "f_score": [5] * n, "m_score": [5] * n, "recency_days": [200] * n,
            "frequency": [12] * n, "monetary": [5400.0] * n, "health_score": [50.0] * n,
            "health_band": ["watch"] * n}
    out = {**base, **cols}
    out.setdefault("motion", [{s.name: s.motion for s in RfmSpec().segments}[s] for s in out["segment"]])
    return ibis.memtable(out)


def test_champion_to_at_risk_gets_the_high_priority_save_play(rows_of):
    spec = RfmSpec()
    now = current(account_id=["A", "B", "C", "D", "E"],
                  segment=["At-Risk", "Lost", "Loyal", "Hibernating", "New"],
                  health_band=["watch", "watch", "watch", "at risk", "healthy"])
    previous = ibis.memtable({"account_id": ["A", "B", "C", "D"], "segment": ["Champions", "New", "Loyal", "Hibernating"],
                              "rfm_cell": ["555", "511", "455", "213"],
                              "health_band": ["healthy", "watch", "watch", "watch"]})
    tasks = change_tasks(now, previous, spec, AS_OF, date(2026, 8, 1))
    rows = rows_of(tasks.order_by(task_order(tasks)))
    got = {r["account_id"]: r for r in rows}
    assert set(got) == {"A", "B", "D", "E"}  # C unchanged and no worse
    a = got["A"]
    assert a["priority"] == "High" and a["due_date"] == date(2026, 11, 3)
    assert a["subject"].startswith("Champion slipping: executive save call") and "(Champions -> At-Risk)" in a["subject"]
    assert a["trigger"] == "segment change; health watch"
    assert a["description"].startswith("Segment Champions -> At-Risk (R5F5M5 -> R1F5M5). Last purchase 200 days ago")
    assert "was healthy" in a["description"] and a["status"] == "Not Started" and a["type"] == "RFM play"
    # no trigger names New -> Lost: the new segment's motion, Normal, default due date
    assert got["B"]["subject"] == "win-back campaign (New -> Lost)" and got["B"]["priority"] == "Normal"
    assert got["B"]["due_date"] == date(2026, 11, 8)
    # same segment, health worse: the band's play
    assert got["D"]["trigger"] == "health at risk" and got["D"]["priority"] == "High"
    assert got["D"]["subject"] == spec.health.plays.at_risk
    # not in the previous run
    assert got["E"]["trigger"] == "first seen" and got["E"]["previous_segment"] is None
    assert [r["account_id"] for r in rows] == ["A", "D", "B", "E"]  # High first, then by due date


def test_first_seen_tasks_can_be_turned_off(rows_of):
    spec = RfmSpec(first_seen_tasks=False)
    now = current(account_id=["E"], segment=["New"])
    previous = ibis.memtable({"account_id": ["X"], "segment": ["New"], "rfm_cell": ["511"],
                              "health_band": ["watch"]})
    assert rows_of(change_tasks(now, previous, spec, AS_OF, date(2026, 8, 1))) == []
