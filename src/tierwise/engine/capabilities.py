"""What an engine or SQL dialect can compile: checked before running, reported in the spec's words.

Ibis compiles an expression operation by operation; a dialect without a rule
for one fails at the first it meets. :func:`missing_operations` instead walks
the whole expression first and lists every missing operation with what it is
for and the output columns that need it, so a user learns everything an
engine lacks at once, before any work is done.

Examples
--------
>>> import ibis
>>> t = ibis.table({"title": "string"}, name="leads")
>>> expr = t.select(is_vp=t.title.re_search("vp"))
>>> [m.describe() for m in missing_operations(expr, "mssql")]
['RegexSearch: regular-expression matching (whole-word title keywords, personas, email checks) — needed by is_vp']
>>> missing_operations(expr, "postgres")
[]
"""

from __future__ import annotations

import functools
import importlib
import operator
from dataclasses import dataclass

import ibis.expr.operations as ops
import ibis.expr.types as ir

from tierwise.errors import TierwiseError

#: Dialects ``tierwise compile`` promises (golden SQL is kept for each); Ibis knows a few more.
DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery", "databricks", "trino", "pyspark")

#: Operations the scoring uses, in the words of the spec.
_FEATURES = {
    "RegexSearch": "regular-expression matching (whole-word title keywords, personas, email checks)",
    "RegexReplace": "regular-expression replacement (domain normalisation, points in reasons)",
    "RegexExtract": "regular-expression extraction (email domains)",
    "ArrayDistinct": "distinct list items (tech stack share_of)",
    "ArrayFilter": "list filtering (tech stack share_of, the top reasons)",
    "Array": "lists (the top reasons)",
    "ArrayIndex": "list items (the top reasons)",
    "ArraySlice": "list slices (the top reasons)",
    "ArrayStringJoin": "joining list items (reasons)",
    "StructColumn": "records (reasons with their points)",
    "First": "the first value of a group",
    "ArrayMap": "list mapping (tech stack share_of)",
    "ArrayContains": "list membership (tech stack, 'in' conditions on lists)",
    "ArrayLength": "list length (tech stack share_of)",
    "ArraySort": "sorted lists (tech stack)",
    "DateDelta": "date differences (event windows, recency, decay)",
    "TimestampDelta": "time differences (event windows, decay)",
    "Date": "timestamp to date (event windows)",
    "WindowFunction": "window functions (MQL top share, reasons ranking)",
    "StringJoin": "joining text (reasons, breakdowns)",
    "Power": "powers (half-life decay)",
    "Exp": "exponentials (half-life decay)",
}


class CapabilityError(TierwiseError):
    """An engine or dialect lacks an operation the spec needs."""


@dataclass(frozen=True)
class MissingOperation:
    """An operation a dialect cannot compile, what it is for, and the output columns that need it."""

    operation: str
    feature: str
    columns: tuple[str, ...]

    def describe(self) -> str:
        used = f" — needed by {', '.join(self.columns)}" if self.columns else ""
        return f"{self.operation}: {self.feature}{used}"


_STRUCTURAL = (ops.Field, ops.Alias, ops.ScalarParameter)


def compiler_class(dialect: str) -> type:
    """The Ibis SQL compiler class of a dialect (``postgres``, ``snowflake`` ...)."""
    try:
        module = importlib.import_module(f"ibis.backends.sql.compilers.{dialect}")
    except ModuleNotFoundError:
        raise CapabilityError(f"unknown SQL dialect {dialect!r}; choose one of {', '.join(DIALECTS)}") from None
    if dialect == "pyspark":
        # the compiler reads ibis.options.pyspark, which loading the backend defines
        import ibis

        try:
            ibis.pyspark  # noqa: B018
        except (ModuleNotFoundError, ImportError):
            raise CapabilityError("the pyspark dialect needs pyspark: pip install 'tierwise[spark]'") from None
    return type(module.compiler)


def missing_operations(expr: ir.Table, dialect: str | type) -> list[MissingOperation]:
    """Every operation of ``expr`` that the dialect (a name or a compiler class) has no rule for."""
    from ibis.backends.sql.compilers.base import SQLGlotCompiler

    compiler = compiler_class(dialect) if isinstance(dialect, str) else dialect
    undefined = SQLGlotCompiler.visit_Undefined
    lowered = getattr(compiler, "lowered_ops", None)
    if lowered:
        # operations the dialect rewrites into others (pyspark's capitalize into upper, lower and
        # substrings) are not missing: check what the compiler will actually meet
        expr = expr.op().replace(functools.reduce(operator.or_, lowered.values())).to_expr()
    missing: dict[str, type] = {}
    for node in expr.op().find(ops.Value):
        kind = type(node)
        if isinstance(node, _STRUCTURAL):
            continue  # compiled as part of the query's shape, not by a rule of their own
        rule = getattr(compiler, f"visit_{kind.__name__}", None)
        if rule is None or rule is undefined:
            missing.setdefault(kind.__name__, kind)
    if not missing:
        return []
    # name the output columns whose values are computed with each missing operation
    out = []
    for name, kind in sorted(missing.items()):
        memo: dict[ops.Node, bool] = {}
        columns = tuple(c for c in expr.columns if _computed_with(expr[c].op(), kind, memo))
        if len(columns) == len(expr.columns) and len(columns) > 3:
            columns = ("every column",)
        out.append(MissingOperation(name, _FEATURES.get(name, "an operation the scoring uses"), columns))
    return out


def _computed_with(node: ops.Node, kind: type, memo: dict[ops.Node, bool]) -> bool:
    """Whether ``node``'s value is computed with an operation of type ``kind``, following each column
    back through the relations to the expression that defines it (not through the whole query)."""
    if node in memo:
        return memo[node]
    memo[node] = False  # cycles cannot occur, but shared subtrees are visited once
    if isinstance(node, kind):
        found = True
    elif isinstance(node, ops.Field):
        found = any(_computed_with(v, kind, memo) for v in _definitions(node.rel, node.name))
    else:
        found = any(_computed_with(arg, kind, memo) for arg in _value_args(node))
    memo[node] = found
    return found


def _definitions(rel: ops.Node, name: str) -> list[ops.Node]:
    """The expressions a relation defines its column ``name`` with (its parent's column when it passes it on)."""
    if isinstance(rel, (ops.Project, ops.JoinChain)):
        return [rel.values[name]] if name in rel.values else []
    if isinstance(rel, ops.Aggregate):
        value = rel.groups.get(name, rel.metrics.get(name))
        return [value] if value is not None else []
    parent = getattr(rel, "parent", None)
    if isinstance(parent, ops.Relation) and name in parent.schema:
        return [ops.Field(parent, name)]
    return []


def _value_args(node: ops.Node) -> list[ops.Node]:
    args: list[ops.Node] = []
    for arg in node.__args__:
        items = arg.values() if isinstance(arg, dict) else arg if isinstance(arg, tuple) else (arg,)
        args.extend(a for a in items if isinstance(a, ops.Value))
    return args
