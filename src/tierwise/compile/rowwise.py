"""The spec's lead scoring and conditions compiled for one record at a time (the API's hot path).

A SQL engine plans a query in milliseconds, which is nothing for a batch and
everything for a request that must answer in a few. This module compiles the
same ``lead_scoring:`` section and the same condition trees into plain Python
closures, following :mod:`tierwise.compile.leads` and
:mod:`tierwise.compile.conditions` step for step — the same order of sums, SQL's
null rules, SQL's rounding (half away from zero) and its number-to-text
formatting — so a record scores to the same bits as in the batch.
``tests/compile/test_rowwise.py`` holds the two to that on every lead of the
test workspaces and the demo.

Examples
--------
>>> from datetime import date, datetime
>>> from tierwise.spec.loader import load_spec_text
>>> spec_file = load_spec_text('''
... data: {accounts: {path: a.csv}}
... fit: {criteria: [{name: size, field: employees, at_least: 100, points: 10}]}
... lead_scoring:
...   fit: [{name: title, field: title, contains: {vp: 15, director: 10}}]
...   behaviour: [{name: intent, cap: 40, events: {demo_request: 30}}]
...   mql: {threshold: 40}
... ''')
>>> scorer = LeadScorer(spec_file)
>>> row = scorer.score({"lead_id": "L1", "email": "ann@gmail.com", "title": "VP Sales"},
...                    [{"event_type": "demo_request", "occurred_at": datetime(2026, 10, 30)}], as_of=date(2026, 11, 1))
>>> row["lead_score"], row["is_mql"], row["breakdown"]
(30.0, False, 'title = VP Sales +15; intent: demo_request x1 +30; personal email (gmail.com) -15')
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from tierwise.compile.conditions import FeatureKey, feature_column, feature_key
from tierwise.compile.leads import _EMAIL, LOC
from tierwise.compile.scoring import keyword_groups, whole_word
from tierwise.spec import expr as E
from tierwise.spec.loader import SpecFile, format_loc
from tierwise.spec.model import FitCriterion, LeadScoringSpec

_SPACE = " \t\n\r\x0b\x0c"  # what SQL TRIM removes in the loader
_EMAIL_RE = re.compile(_EMAIL)
_DOMAIN_RE = re.compile(r"@([^@\s]+)$")

Row = Mapping[str, Any]


# --------------------------------------------------------------------------- SQL semantics


def sql_round(value: float, digits: int) -> float:
    """``ROUND(x, d)`` as SQL engines do it: half away from zero (Python rounds half to even)."""
    scale = 10.0 ** digits
    return math.copysign(math.floor(abs(value) * scale + 0.5), value) / scale


def sql_text(value: Any) -> str | None:
    """``CAST(value AS VARCHAR)``: whole floats keep ``.0``, booleans are ``true``/``false``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "inf" if value == math.inf else "-inf" if value == -math.inf else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def trimmed(value: Any) -> Any:
    """The loader's text cleaning: trimmed, empty as null."""
    if isinstance(value, str):
        value = value.strip(_SPACE)
        return value or None
    return value


def typed_record(table: str, record: Row) -> dict[str, Any]:
    """A record typed by pydantic, cleaned like the loader cleans a file row.

    Text is trimmed (empty is null), emails and lower-case codes are lower
    case, lists are trimmed, lower-cased, de-duplicated and sorted.
    """
    from tierwise.datamodel import TABLES

    columns = TABLES[table].columns
    out: dict[str, Any] = {}
    for name, value in record.items():
        col = columns.get(name)
        if isinstance(value, list):
            value = sorted({x.strip(_SPACE).lower() for x in value if isinstance(x, str) and x.strip(_SPACE)})
        else:
            value = trimmed(value)
        if isinstance(value, str) and col is not None and (col.dtype == "email" or col.lower):
            value = value.lower()
        out[name] = value
    return out


def _fold(value: Any) -> Any:
    return value.strip(_SPACE).lower() if isinstance(value, str) else value


# --------------------------------------------------------------------------- conditions


def compile_predicate(node: E.Node) -> Callable[[Row, Mapping[FeatureKey, Any]], bool]:
    """A condition tree as a function of a record (and its event features); null is never true.

    Mirrors :func:`tierwise.compile.conditions.compile_condition`.
    """
    value = _compile(node)
    return lambda row, features: value(row, features) is True


def _compile(node: E.Node) -> Callable[[Row, Mapping], Any]:  # noqa: C901 - one branch per node type
    if isinstance(node, E.Column):
        name = node.name
        return lambda r, f: r.get(name)
    if isinstance(node, E.Literal):
        v = node.value
        return lambda r, f: v
    if isinstance(node, E.Logical):
        parts = [_compile(op) for op in node.operands]
        if node.op == "and":
            return lambda r, f: all(p(r, f) is True for p in parts)
        return lambda r, f: any(p(r, f) is True for p in parts)
    if isinstance(node, E.Not):
        inner = _compile(node.operand)
        return lambda r, f: inner(r, f) is not True
    if isinstance(node, E.Compare):
        left, right, op = _compile(node.left), _compile(node.right), _OPS[node.op]
        fold = node.op in ("==", "!=")

        def compare(r: Row, f: Mapping) -> Any:
            a, b = left(r, f), right(r, f)
            if a is None or b is None:
                return None
            if fold and isinstance(a, str) and isinstance(b, str):
                a, b = _fold(a), _fold(b)
            return op(a, b)
        return compare
    if isinstance(node, E.Membership):
        item = _compile(node.item)
        texts = {str(v).strip().lower() for v in node.values}
        values = set(node.values)
        negate = node.negate

        def member(r: Row, f: Mapping) -> Any:
            v = item(r, f)
            if v is None:
                return None
            hit = _fold(v) in texts if isinstance(v, str) else v in values
            return not hit if negate else hit
        return member
    if isinstance(node, E.Contains):
        column, wanted, negate = node.column.name, node.value.strip().lower(), node.negate

        def contains(r: Row, f: Mapping) -> Any:
            items = r.get(column)
            if items is None:
                return None
            hit = wanted in items
            return not hit if negate else hit
        return contains
    if isinstance(node, E.Arithmetic):
        left, right, opname = _compile(node.left), _compile(node.right), node.op

        def arith(r: Row, f: Mapping) -> Any:
            a, b = left(r, f), right(r, f)
            if a is None or b is None:
                return None
            if opname == "/":
                return None if b == 0 else a / b
            return a + b if opname == "+" else a - b if opname == "-" else a * b
        return arith
    if isinstance(node, E.Call):
        if node.name in ("is_null", "not_null"):
            arg, want_null = _compile(node.args[0]), node.name == "is_null"
            return lambda r, f: (arg(r, f) is None) == want_null
        key = feature_key(node)
        return lambda r, f: f.get(key)
    raise AssertionError(f"unhandled node {node!r}")


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


# --------------------------------------------------------------------------- lead scoring


def _points_text(value: float) -> str:
    text = sql_text(sql_round(value, 1))
    text = text[:-2] if text.endswith(".0") else text
    return "+" + text if value >= 0 else text


class _Criterion:
    """A fit criterion over one record: ``(points, label)`` like ``compile.scoring.fit_points``."""

    def __init__(self, crit: FitCriterion, node: E.Node | None):
        self.crit = crit
        self.points = float(crit.max_points)
        self.when = compile_predicate(node) if node is not None else None
        if crit.contains:
            self.patterns = [(re.compile(whole_word(*kws)), p) for kws, p in keyword_groups(crit.contains)]

    def __call__(self, r: Row, features: Mapping) -> tuple[float, str | None]:
        c = self.crit
        if c.matcher == "when":
            return (self.points if self.when(r, features) else 0.0), c.name  # type: ignore[misc]
        v = r.get(c.field)  # type: ignore[arg-type]
        shown = None if v is None else f"{c.field} = {sql_text(v)}"
        if c.matcher == "bands":
            if v is not None:
                for band in c.bands or []:
                    if (band.min is None or v >= band.min) and (band.max is None or v < band.max):
                        return float(band.points), shown
            return 0.0, shown
        if c.matcher == "values":
            folded = None if v is None else sql_text(v).strip(_SPACE).lower()
            label = None if folded is None else f"{c.field} = {folded}"
            for k, p in (c.values or {}).items():
                if folded is not None and folded == str(k).strip().lower():
                    return float(p), label
            return 0.0, label
        if c.matcher == "in":
            if v is None:
                return 0.0, None
            if isinstance(v, str):
                hit = v.strip(_SPACE).lower() in {str(x).strip().lower() for x in c.in_ or []}
                return (self.points if hit else 0.0), f"{c.field} = {v.strip(_SPACE)}"
            return (self.points if v in {float(x) for x in c.in_ or []} else 0.0), shown
        if c.matcher == "contains":
            if v is None:
                return 0.0, None
            text = sql_text(v).lower()
            for pattern, p in self.patterns:
                if pattern.search(text):
                    return p, shown
            return 0.0, shown
        if c.matcher == "share_of":
            if v is None:
                return 0.0, None
            items = {str(x).strip().lower() for x in c.share_of or []}
            matched = [x for x in v if x in items]
            full_at = c.full_at or len(items)
            return min(len(matched) / full_at, 1.0) * self.points, f"{c.field} has {', '.join(matched)}"
        if c.matcher == "at_least":
            return (self.points if v is not None and v >= c.at_least else 0.0), shown
        if c.matcher == "at_most":
            return (self.points if v is not None and v <= c.at_most else 0.0), shown
        raise AssertionError(c.matcher)


class LeadScorer:
    """The spec's ``lead_scoring`` as a function of one person and their events.

    ``score(person, events, as_of)`` returns the fields of
    :func:`tierwise.compile.leads.compile_lead_scores` for that person: the
    person's typed columns plus ``persona``, ``fit_points``,
    ``behaviour_points``, ``negative_points``, ``days_since_activity``,
    ``decay_factor``, ``lead_score``, ``is_mql``, ``mql_threshold``,
    ``lead_segment``, ``motion``, ``breakdown``, ``email_valid`` and one entry
    per part (``fit__<name>``, ``behaviour__<group>``, ``penalty__<name>``).
    The MQL line is fixed: the spec's threshold, else ``mql_threshold``.
    """

    def __init__(self, spec_file: SpecFile, *, mql_threshold: float | None = None):
        ls = spec_file.spec.lead_scoring
        if ls is None:
            raise ValueError(f"{spec_file.path}: the spec has no 'lead_scoring:' section")
        self.spec: LeadScoringSpec = ls
        self.threshold = mql_threshold if mql_threshold is not None else ls.mql.threshold
        if self.threshold is None:
            raise ValueError("a record is scored against a fixed MQL line: pass mql_threshold "
                             "(the line a batch run chose for top_share)")

        def node(loc: tuple, text: str | None) -> E.Node | None:
            return (spec_file.conditions.get(format_loc(loc)) or E.parse_condition(text)) if text else None

        self.fit = [(c.name, _Criterion(c, node((*LOC, "fit", i, "when"), c.when))) for i, c in enumerate(ls.fit)]
        self.groups = [(g, [_Criterion(c, node((*LOC, "behaviour", gi, "criteria", i, "when"), c.when))
                            for i, c in enumerate(g.criteria)]) for gi, g in enumerate(ls.behaviour)]
        self.penalty_rules = [(r, compile_predicate(node((*LOC, "negatives", "rules", i, "when"), r.when)))
                              for i, r in enumerate(ls.negatives.rules)]
        seg_nodes = [node((*LOC, "segments", "rules", i, "when"), r.when) for i, r in enumerate(ls.segments.rules)]
        self.segments = [(r, compile_predicate(n)) for r, n in zip(ls.segments.rules, seg_nodes, strict=True)]
        self.features: set[FeatureKey] = set()
        for n in seg_nodes:
            self.features |= {feature_key(c) for c in E.walk(n) if isinstance(c, E.Call)
                              and c.name in ("event_count", "days_since")}
        self.windows = {t: float(ls.window_days if r.window_days is None else r.window_days)
                        for t, (_, r) in ls.event_rules().items()}
        self.personas = [(name, re.compile(whole_word(*kws))) for name, kws in ls.personas.items() if kws]

    # -- steps --------------------------------------------------------------------------------
    def _persona(self, r: Row) -> str | None:
        given = r.get("persona")
        given = given.strip(_SPACE).lower() or None if isinstance(given, str) else None
        if given is not None or not self.personas or r.get("title") is None:
            return given
        title = r["title"].lower()
        for name, pattern in self.personas:
            if pattern.search(title):
                return name
        return None

    def _events(self, events: list[Row], as_of: date) -> tuple[dict[str, int], int | None, dict[FeatureKey, Any]]:
        counts = dict.fromkeys(self.windows, 0)
        last: int | None = None
        features: dict[FeatureKey, Any] = {k: (0 if k[0] == "event_count" else None) for k in self.features}
        for e in events:
            when = e.get("occurred_at")
            etype = e.get("event_type")
            if when is None:
                continue
            age = (as_of - (when.date() if isinstance(when, datetime) else when)).days
            if age < 0:
                continue
            last = age if last is None or age < last else last
            window = self.windows.get(etype)
            if window is not None and age <= window:
                counts[etype] += 1
            for key in self.features:
                fn, ftype, days = key
                if etype == ftype:
                    if fn == "event_count":
                        if age <= days:  # type: ignore[operator]
                            features[key] += 1
                    elif features[key] is None or age < features[key]:
                        features[key] = age
        return counts, last, features

    def score(self, person: Row, events: list[Row], *, as_of: date) -> dict[str, Any]:
        """Score one person (typed columns, text trimmed) from their events (``event_type`` lower case)."""
        ls = self.spec
        r = dict(person)
        email = r.get("email")
        clean = email.strip(_SPACE).lower() if isinstance(email, str) else None
        email_ok = bool(clean is not None and _EMAIL_RE.search(clean))
        found = _DOMAIN_RE.search(clean) if email_ok else None  # a malformed address has no domain
        domain = found.group(1) if found else None
        r["persona"] = self._persona(r)
        counts, last_age, features = self._events(events, as_of)

        parts: dict[str, float] = {}
        labels: list[str | None] = []
        for name, crit in self.fit:
            pts, shown = crit(r, features)
            parts[f"fit__{name}"] = pts
            labels.append(f"{shown} {_points_text(pts)}" if pts != 0 and shown is not None else None)
        for group, crits in self.groups:
            pts_list: list[float] = []
            items: list[str | None] = []
            for etype, rule in group.events.items():
                n = counts[etype]
                pts = float(n) * float(rule.points)
                if rule.cap is not None and rule.points > 0:
                    pts = min(pts, float(rule.cap))
                pts_list.append(pts)
                items.append(f"{etype} x{n}" if n > 0 else None)
            for crit in crits:
                pts, shown = crit(r, features)
                pts_list.append(pts)
                items.append(shown if pts != 0 else None)
            raw = sum(pts_list, 0.0)
            total = min(raw, float(group.cap)) if group.cap is not None else raw
            parts[f"behaviour__{group.name}"] = total
            listed = ", ".join(x for x in items if x is not None) if len(items) > 1 else items[0]
            if total != 0 and listed is not None:
                capped = f" (cap {group.cap:g})" if group.cap is not None and raw > total else ""
                labels.append(f"{group.name}: {listed} {_points_text(total)}{capped}")
            else:
                labels.append(None)

        neg = ls.negatives
        penalties: list[tuple[str, bool, float, str | None]] = []
        if neg.competitor.domains and neg.competitor.points:
            penalties.append(("competitor", domain in neg.competitor.domains, neg.competitor.points,
                              f"competitor domain ({domain})" if domain else None))
        if neg.personal_email.domains and neg.personal_email.points:
            penalties.append(("personal_email", domain in neg.personal_email.domains, neg.personal_email.points,
                              f"personal email ({domain})" if domain else None))
        size = neg.wrong_size
        if (size.min is not None or size.max is not None) and size.points and size.field in r:
            v = r.get(size.field)
            wrong = v is not None and ((size.min is not None and v < size.min) or (size.max is not None and v >= size.max))
            penalties.append(("wrong_size", wrong, size.points,
                              f"wrong size ({size.field} {sql_text(v)})" if v is not None else None))
        for rule, predicate in self.penalty_rules:
            penalties.append((rule.name, predicate(r, features), rule.points, rule.name))
        for name, hit, points, label in penalties:
            pts = float(points) if hit else 0.0
            parts[f"penalty__{name}"] = pts
            labels.append(f"{label} {_points_text(pts)}" if pts != 0 and label is not None else None)

        def total(prefix: str) -> float:
            return sum((v for k, v in parts.items() if k.startswith(prefix)), 0.0)

        fit, behaviour, negative = total("fit__"), total("behaviour__"), total("penalty__")
        created = r.get("created_at")
        created_age = (as_of - (created.date() if isinstance(created, datetime) else created)).days \
            if created is not None else None
        idle = last_age if last_age is not None else (created_age if created_age is not None and created_age >= 0
                                                      else None)
        months = float(math.floor(idle / ls.decay.month_days)) if idle is not None else 0.0
        factor = (1.0 - ls.decay.monthly_rate) ** months if ls.decay.monthly_rate else 1.0
        cap = float(ls.total_cap)
        if ls.decay.applies_to == "total":
            score = max(min(fit + behaviour + negative, cap), 0.0) * factor
        else:
            score = max(min(fit + behaviour * factor + negative, cap), 0.0)
        decay_factor = sql_round(factor, 4)
        lead_score = sql_round(score, 2)
        if months > 0:
            labels.append(f"idle {int(months)} {'month' if months == 1 else 'months'} x"
                          f"{sql_text(sql_round(decay_factor, 2))}")
        if email is not None and not email_ok:
            labels.append("malformed email")
        breakdown = "; ".join(x for x in labels if x is not None) or None
        is_mql = lead_score >= self.threshold and lead_score > 0
        seg_index = next((i for i, (_, p) in enumerate(self.segments) if p(
            {**r, "fit_points": sql_round(fit, 2), "behaviour_points": sql_round(behaviour, 2),
             "negative_points": sql_round(negative, 2), "days_since_activity": idle, "decay_factor": decay_factor,
             "lead_score": lead_score, "is_mql": is_mql, "mql_threshold": self.threshold,
             "breakdown": breakdown}, features)), len(self.segments))
        chosen = self.segments[seg_index][0] if seg_index < len(self.segments) else ls.segments.default
        return {
            **r,
            "fit_points": sql_round(fit, 2), "behaviour_points": sql_round(behaviour, 2),
            "negative_points": sql_round(negative, 2), "days_since_activity": idle, "decay_factor": decay_factor,
            "lead_score": lead_score, "is_mql": is_mql, "mql_threshold": float(self.threshold),
            "lead_segment": chosen.name, "motion": chosen.motion, "breakdown": breakdown,
            "email_valid": email_ok or email is None,
            **{k: sql_round(v, 2) for k, v in parts.items()},
        }


def event_feature_columns(keys: set[FeatureKey]) -> dict[FeatureKey, str]:
    """Feature key -> its column name (as the SQL path names them)."""
    return {k: feature_column(k) for k in keys}
