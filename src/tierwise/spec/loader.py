"""Load a spec from YAML, collect every problem, and report each with its line.

Examples
--------
>>> from tierwise.spec.loader import load_spec_text
>>> bad = "data:\\n  accounts: {path: a.csv}\\nfit:\\n  weigth: 40\\n"
>>> try:
...     load_spec_text(bad, source="spec.yaml")
... except SpecError as err:
...     print(err)
spec.yaml has 1 problem:
  spec.yaml:4: fit.weigth: unknown key 'weigth' (did you mean 'weight'?); allowed keys: criteria, weight
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tierwise.datamodel import LEAD_SCORE_FIELDS, ROUTING_FIELDS, SCORE_FIELDS, TABLES
from tierwise.errors import TierwiseError
from tierwise.spec.expr import ConditionError, parse_condition, referenced_columns
from tierwise.spec.model import DataSpec, FitCriterion, SourceSpec, Spec

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecIssue:
    loc: Loc
    message: str
    line: int | None = None

    @property
    def key(self) -> str:
        return format_loc(self.loc)


class SpecError(TierwiseError):
    """Every problem found in a spec, each with its key path and line."""

    def __init__(self, source: str, issues: list[SpecIssue]):
        self.source = source
        self.issues = issues
        lines = [f"{source} has {len(issues)} problem{'s' if len(issues) != 1 else ''}:"]
        for issue in issues:
            where = f"{source}:{issue.line}" if issue.line else source
            key = f" {issue.key}:" if issue.key else ""
            lines.append(f"  {where}:{key} {issue.message}")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class SpecFile:
    """A validated spec and where it came from (relative paths resolve against it)."""

    spec: Spec
    path: Path | None = None
    conditions: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def load_spec(path: str | Path) -> SpecFile:
    """Read and validate a spec file; raise :class:`SpecError` listing every problem."""
    path = Path(path)
    if not path.exists():
        raise TierwiseError(f"spec file not found: {path} (create one with `tierwise init`)")
    text = path.read_text(encoding="utf-8")
    return load_spec_text(text, source=str(path), path=path)


def load_spec_text(text: str, *, source: str = "<spec>", path: Path | None = None) -> SpecFile:
    """Validate spec YAML text; see :func:`load_spec`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(source, [SpecIssue((), f"invalid YAML: {problem}", line)]) from None
    lines: dict[Loc, int] = {}
    issues: list[SpecIssue] = []
    if root is not None:
        _index_lines(root, (), lines, issues)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(source, [SpecIssue((), "the spec must be a mapping of keys (data:, fit:, tiers: ...)", 1)])
    spec: Spec | None = None
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc))
    conditions: dict[str, Any] = {}
    issues.extend(_semantic_issues(data, conditions))
    if issues:
        located = [SpecIssue(i.loc, i.message, i.line or _line_for(i.loc, lines)) for i in issues]
        located = sorted(set(located), key=lambda i: (i.line or 0, i.key, i.message))
        raise SpecError(source, located)
    assert spec is not None
    return SpecFile(spec=spec, path=path, conditions=conditions)


# --------------------------------------------------------------------------- lines


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], issues: list[SpecIssue]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            child = (*loc, key)
            if key in seen:
                issues.append(SpecIssue(child, f"key '{key}' appears twice", key_node.start_mark.line + 1))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index_lines(value_node, child, lines, issues)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index_lines(item, (*loc, i), lines, issues)


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


# --------------------------------------------------------------------------- pydantic


def _pydantic_issues(exc: ValidationError) -> list[SpecIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _allowed_keys(loc[:-1])
            hint = difflib.get_close_matches(key, allowed, n=1)
            msg = f"unknown key '{key}'"
            if hint:
                msg += f" (did you mean '{hint[0]}'?)"
            if allowed:
                msg += f"; allowed keys: {', '.join(sorted(allowed))}"
        elif kind == "missing":
            msg = f"missing required key '{loc[-1]}'"
        elif kind == "literal_error":
            msg = f"{err['msg'].replace('Input should be', 'must be')} (got {err['input']!r})"
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            elif msg.startswith("Assertion failed, "):
                msg = msg[len("Assertion failed, "):]
            else:
                msg = msg.replace("Input should be", "must be")
                if "input" in err and not isinstance(err["input"], dict | list):
                    msg += f" (got {err['input']!r})"
        if not loc:
            loc = next((where for prefix, where in _WHOLE_SPEC_CHECKS if msg.startswith(prefix)), loc)
        issues.append(SpecIssue(loc, msg))
    return issues


#: Spec-wide checks (Spec._cross_checks) and the key each one is about, so it is reported at its line.
_WHOLE_SPEC_CHECKS: tuple[tuple[str, Loc], ...] = (
    ("category weights must add up to 100", ("fit", "weight")),
    ("event types listed under both", ("engagement", "events")),
    ("fit.weight is above 0", ("fit", "criteria")),
    ("territory coverage names", ("territories", "coverage")),
    ("territory scenario", ("territories", "scenarios")),
    ("territory keep_tiers", ("territories", "moves", "keep_tiers")),
)


def _allowed_keys(loc: Loc) -> list[str]:
    """Keys allowed at a location, found by walking the model classes."""
    model: Any = Spec
    for part in loc:
        if isinstance(part, int):
            continue
        field_info = model.model_fields.get(part) if _is_model(model) else None
        if field_info is None:
            # dict of models (events) or an alias: look inside the annotation
            continue
        model = _inner_model(field_info.annotation)
        if model is None:
            return []
    if not _is_model(model):
        return []
    return [(f.alias or name) for name, f in model.model_fields.items()]


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _inner_model(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- semantics


_NUMERIC = {"int", "float"}


def _semantic_issues(data: dict[str, Any], conditions: dict[str, Any]) -> list[SpecIssue]:
    """Checks pydantic cannot do: columns exist, conditions parse, types fit matchers.

    Works section by section on the raw mapping, so problems here are reported
    even when another section failed validation.
    """
    issues: list[SpecIssue] = []
    account_types: dict[str, str] = {name: c.dtype for name, c in TABLES["accounts"].columns.items()}
    sources = _try(DataSpec, data.get("data"))
    if sources is not None:
        account_types.update(sources.accounts.attributes)
        for table, source in sources.sources().items():
            _check_source(table, source, issues)
            if source.table is not None and sources.database is None:
                issues.append(SpecIssue(("data", table, "table"), f"data.{table} is the table '{source.table}' but "
                                        "data.database is not set; add data.database: postgresql://USER@HOST:5432/DB"))

    fit = data.get("fit") if isinstance(data.get("fit"), dict) else {}
    criteria = fit.get("criteria") if isinstance(fit.get("criteria"), list) else []
    for i, raw in enumerate(criteria):
        crit = _try(FitCriterion, raw)
        if crit is not None:
            _check_criterion(crit, ("fit", "criteria", i), account_types, issues, conditions)

    segments = data.get("segments") if isinstance(data.get("segments"), dict) else {}
    rules = segments.get("rules") if isinstance(segments.get("rules"), list) else []
    for i, raw in enumerate(rules):
        # the condition is checked even when another key of the rule is wrong
        when = raw.get("when") if isinstance(raw, dict) else None
        if isinstance(when, str) and when.strip():
            _check_condition(when, ("segments", "rules", i, "when"), account_types, issues, conditions,
                             allow_scores=True)

    person_types = {name: c.dtype for name, c in TABLES["leads"].columns.items()}
    if sources is not None and sources.leads is not None:
        person_types.update(sources.leads.attributes)
    scored = isinstance(data.get("lead_scoring"), dict)
    if scored:
        _check_lead_scoring(data["lead_scoring"], person_types, issues, conditions)

    routing = data.get("routing") if isinstance(data.get("routing"), dict) else {}
    lead_types = person_types | ROUTING_FIELDS
    routes = routing.get("rules") if isinstance(routing.get("rules"), list) else []
    for i, raw in enumerate(routes):
        when = raw.get("when") if isinstance(raw, dict) else None
        if isinstance(when, str) and when.strip():
            loc = ("routing", "rules", i, "when")
            reads = _lead_score_reads(when)
            if reads and not scored:
                issues.append(SpecIssue(loc, f"reads {', '.join(reads)}, which needs a 'lead_scoring:' section "
                                             "(see docs/lead-scoring.md)"))
                continue
            _check_condition(when, loc, lead_types, issues, conditions, allow_scores=False)

    if isinstance(data.get("rfm"), dict):
        _check_rfm(data["rfm"], account_types, sources, issues)
    if isinstance(data.get("governance"), dict):
        _check_governance(data["governance"], account_types, sources, issues, conditions)
    if isinstance(data.get("territories"), dict):
        _check_territories(data["territories"], account_types, issues)
    return issues


def _check_territories(section: dict[str, Any], account_types: dict[str, str], issues: list[SpecIssue]) -> None:
    """The potential is a number over account columns, scores and deal figures; the region field exists."""
    from tierwise.compile.conditions import value_type_problem
    from tierwise.datamodel import TERRITORY_FIELDS

    known = account_types | SCORE_FIELDS | TERRITORY_FIELDS
    text = section.get("potential")
    if isinstance(text, str):
        loc = ("territories", "potential")
        try:
            node = parse_condition(text)
        except ConditionError as exc:
            issues.append(SpecIssue(loc, f"{exc} in {text!r}"))
        else:
            unknown = sorted(referenced_columns(node) - set(known))
            for name in unknown:
                issues.append(SpecIssue(loc, _unknown_column(name, known)))
            problem = None if unknown else value_type_problem(node, known)
            if problem:
                issues.append(SpecIssue(loc, f"{problem} in {text!r}"))
    field = section.get("region_field")
    if isinstance(field, str) and field not in account_types:
        issues.append(SpecIssue(("territories", "region_field"), _unknown_column(field, account_types)))


def _check_governance(section: dict[str, Any], account_types: dict[str, str], sources: DataSpec | None,
                      issues: list[SpecIssue], conditions: dict[str, Any]) -> None:
    """Drift attributes are account columns; the pipeline's exclusion reads opportunity columns."""
    drift = section.get("drift") if isinstance(section.get("drift"), dict) else {}
    attributes = drift.get("attributes") if isinstance(drift.get("attributes"), list) else []
    for i, name in enumerate(attributes):
        loc = ("governance", "drift", "attributes", i)
        if not isinstance(name, str):
            continue
        if name not in account_types:
            issues.append(SpecIssue(loc, _unknown_column(name, account_types)
                                    + " (an accounts column, or one under data.accounts.attributes)"))
        elif account_types[name] == "list":
            issues.append(SpecIssue(loc, f"'{name}' is a list column; drift compares numbers and text"))
    pipeline = section.get("pipeline") if isinstance(section.get("pipeline"), dict) else {}
    when = pipeline.get("exclude_when")
    if isinstance(when, str) and when.strip():
        opp_types = {name: c.dtype for name, c in TABLES["opportunities"].columns.items()}
        if sources is not None and sources.opportunities is not None:
            opp_types.update(sources.opportunities.attributes)
        _check_condition(when, ("governance", "pipeline", "exclude_when"), opp_types, issues, conditions,
                         allow_scores=False)


def _check_rfm(section: dict[str, Any], account_types: dict[str, str], sources: DataSpec | None,
               issues: list[SpecIssue]) -> None:
    """Health reads account columns (numbers) and, for usage events, the activities table."""
    health = section.get("health") if isinstance(section.get("health"), dict) else {}
    for part in ("usage", "support"):
        raw = health.get(part) if isinstance(health.get(part), dict) else {}
        field = raw.get("field")
        if isinstance(field, str):
            loc = ("rfm", "health", part, "field")
            if field not in account_types:
                issues.append(SpecIssue(loc, _unknown_column(field, account_types)
                                        + " (an accounts column, or one under data.accounts.attributes)"))
            elif account_types[field] not in _NUMERIC:
                issues.append(SpecIssue(loc, f"'{field}' is {account_types[field]}; health {part} needs a number"))
    usage = health.get("usage") if isinstance(health.get("usage"), dict) else {}
    if usage.get("events") and sources is not None and sources.activities is None:
        issues.append(SpecIssue(("rfm", "health", "usage", "events"),
                                "usage events are read from the activities table: add data.activities"))


def _lead_score_reads(text: str) -> list[str]:
    try:
        node = parse_condition(text)
    except ConditionError:
        return []
    return sorted((referenced_columns(node) & set(LEAD_SCORE_FIELDS) - set(TABLES["leads"].columns))
                  | ({"lead_segment"} & referenced_columns(node)))


def _check_lead_scoring(section: dict[str, Any], person_types: dict[str, str], issues: list[SpecIssue],
                        conditions: dict[str, Any]) -> None:
    """Fit and behaviour criteria read person columns; penalties and segments may read lead scores too."""
    loc: Loc = ("lead_scoring",)
    criteria = section.get("fit") if isinstance(section.get("fit"), list) else []
    for i, raw in enumerate(criteria):
        crit = _try(FitCriterion, raw)
        if crit is not None:
            _check_criterion(crit, (*loc, "fit", i), person_types, issues, conditions)
    groups = section.get("behaviour") if isinstance(section.get("behaviour"), list) else []
    for g, group in enumerate(groups):
        crits = group.get("criteria") if isinstance(group, dict) and isinstance(group.get("criteria"), list) else []
        for i, raw in enumerate(crits):
            crit = _try(FitCriterion, raw)
            if crit is not None:
                _check_criterion(crit, (*loc, "behaviour", g, "criteria", i), person_types, issues, conditions)
    negatives = section.get("negatives") if isinstance(section.get("negatives"), dict) else {}
    size = negatives.get("wrong_size") if isinstance(negatives.get("wrong_size"), dict) else {}
    field = size.get("field", "employees")
    if isinstance(field, str) and person_types.get(field) not in _NUMERIC:
        issues.append(SpecIssue((*loc, "negatives", "wrong_size", "field"),
                                _unknown_column(field, person_types) if field not in person_types
                                else f"'{field}' is {person_types[field]}; wrong_size needs a number"))
    rules = negatives.get("rules") if isinstance(negatives.get("rules"), list) else []
    for i, raw in enumerate(rules):
        when = raw.get("when") if isinstance(raw, dict) else None
        if isinstance(when, str) and when.strip():
            _check_condition(when, (*loc, "negatives", "rules", i, "when"), person_types, issues, conditions,
                             allow_scores=False)
    segments = section.get("segments") if isinstance(section.get("segments"), dict) else {}
    seg_rules = segments.get("rules") if isinstance(segments.get("rules"), list) else []
    for i, raw in enumerate(seg_rules):
        when = raw.get("when") if isinstance(raw, dict) else None
        if isinstance(when, str) and when.strip():
            _check_condition(when, (*loc, "segments", "rules", i, "when"), person_types | LEAD_SCORE_FIELDS,
                             issues, conditions, allow_scores=False)


def _try(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _check_source(table: str, source: SourceSpec, issues: list[SpecIssue]) -> None:
    known = set(TABLES[table].columns) | set(source.attributes)
    for canonical in source.columns:
        if canonical not in known:
            hint = difflib.get_close_matches(canonical, known, n=1)
            issues.append(SpecIssue(
                ("data", table, "columns", canonical),
                f"'{canonical}' is not a column of {table}"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + f"; columns: {', '.join(sorted(known))}",
            ))
    for name in sorted(set(source.attributes) & set(TABLES[table].columns)):
        issues.append(SpecIssue(("data", table, "attributes", name), f"'{name}' is already a canonical column of {table}"))


def _check_criterion(crit: FitCriterion, loc: Loc, account_types: dict[str, str], issues: list[SpecIssue],
                     conditions: dict[str, Any]) -> None:
    if crit.matcher == "when":
        _check_condition(crit.when or "", (*loc, "when"), account_types, issues, conditions, allow_scores=False)
        return
    dtype = account_types.get(crit.field or "")
    if dtype is None:
        issues.append(SpecIssue((*loc, "field"), _unknown_column(crit.field or "", account_types)))
        return
    need = _MATCHER_TYPES[crit.matcher]
    if dtype not in need:
        issues.append(SpecIssue(
            (*loc, "field"),
            f"'{crit.matcher}' needs a {' or '.join(sorted(need))} column, but '{crit.field}' is {dtype}",
        ))


_MATCHER_TYPES = {
    "bands": _NUMERIC, "at_least": _NUMERIC, "at_most": _NUMERIC, "share_of": {"list"},
    "values": {"string", "domain", "email", "bool", "int"}, "in": {"string", "domain", "email", "int"},
    "contains": {"string"},
}


def _check_condition(text: str, loc: Loc, account_types: dict[str, str], issues: list[SpecIssue],
                     conditions: dict[str, Any], *, allow_scores: bool) -> None:
    try:
        node = parse_condition(text)
    except ConditionError as exc:
        issues.append(SpecIssue(loc, f"{exc} in {text!r}"))
        return
    known = dict(account_types)
    if allow_scores:
        known.update(SCORE_FIELDS)
    bad = False
    for name in sorted(referenced_columns(node)):
        if name not in known:
            extra = "" if allow_scores or name not in SCORE_FIELDS else " (scores are not available inside fit criteria)"
            issues.append(SpecIssue(loc, _unknown_column(name, known) + extra))
            bad = True
    if bad:
        return
    from tierwise.compile.conditions import type_problem  # compiling is the only exact type check

    problem = type_problem(node, known)
    if problem:
        issues.append(SpecIssue(loc, f"{problem} in {text!r}"))
        return
    conditions[format_loc(loc)] = node


def _unknown_column(name: str, known: dict[str, str]) -> str:
    hint = difflib.get_close_matches(name, list(known), n=1)
    msg = f"unknown column '{name}'"
    if hint:
        msg += f" (did you mean '{hint[0]}'?)"
    return msg


__all__ = ["SpecError", "SpecFile", "SpecIssue", "format_loc", "load_spec", "load_spec_text"]
