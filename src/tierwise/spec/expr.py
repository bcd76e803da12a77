"""A small, safe condition language for segment rules and fit criteria.

Conditions are parsed with :mod:`ast` into a closed set of node types and
compiled to Ibis later (see :mod:`tierwise.compile.conditions`); nothing is
ever evaluated with ``eval``. Anything outside the whitelist is an error that
names the offending construct.

Grammar (Python-like):

* comparisons ``< <= > >= == !=``, chained (``100 <= employees < 1000``);
* ``and``, ``or``, ``not`` and parentheses;
* ``x in [..]`` / ``x not in [..]`` against a literal list (case-insensitive
  for text); ``'snowflake' in tech_stack`` tests a multi-valued field;
* arithmetic ``+ - * /`` on numbers;
* literals: numbers (``500e6``, ``5_000``), quoted text, ``true``,
  ``false``, ``null``;
* functions: ``is_null(col)``, ``not_null(col)``,
  ``event_count('type', days)`` (events of a type in the last *days* days),
  ``days_since('type')`` (days since the latest event of a type).

Examples
--------
>>> node = parse_condition("employees >= 5000 and annual_revenue >= 500e6")
>>> sorted(referenced_columns(node))
['annual_revenue', 'employees']
>>> parse_condition("__import__('os')")
Traceback (most recent call last):
...
tierwise.spec.expr.ConditionError: function '__import__' is not allowed; use one of: days_since, event_count, is_null, not_null
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Union

FUNCTIONS = {
    "is_null": ("column",),
    "not_null": ("column",),
    "event_count": ("text", "number"),
    "days_since": ("text",),
}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_NAMED_CONSTANTS = {"true": True, "false": False, "null": None}


class ConditionError(ValueError):
    """A condition that cannot be parsed or uses something not allowed."""


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool | None


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Membership:
    """``item in values`` against a literal list."""

    item: Node
    values: tuple[str | int | float, ...]
    negate: bool = False


@dataclass(frozen=True)
class Contains:
    """``value in list_column``: a multi-valued field holds the value."""

    column: Column
    value: str
    negate: bool = False


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Arithmetic:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Union[Column, Literal, Compare, Membership, Contains, Logical, Not, Arithmetic, Call]


def parse_condition(text: str) -> Node:
    """Parse a condition string into a node tree, or raise :class:`ConditionError`."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("a condition must be a non-empty text")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ConditionError(f"cannot parse condition{where}: {exc.msg}") from None
    return _convert(tree.body)


def _convert(node: ast.AST) -> Node:
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        return Logical(op, tuple(_convert(v) for v in node.values))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return Not(_convert(node.operand))
        if isinstance(node.op, ast.USub | ast.UAdd):
            inner = _convert(node.operand)
            if isinstance(inner, Literal) and isinstance(inner.value, int | float) and not isinstance(inner.value, bool):
                return Literal(-inner.value if isinstance(node.op, ast.USub) else inner.value)
            return Arithmetic("*", Literal(-1 if isinstance(node.op, ast.USub) else 1), inner)
    if isinstance(node, ast.Compare):
        return _compare(node)
    if isinstance(node, ast.BinOp):
        op = _ARITH.get(type(node.op))
        if op is None:
            raise ConditionError(f"operator '{ast.unparse(node)}' is not allowed; use + - * /")
        return Arithmetic(op, _convert(node.left), _convert(node.right))
    if isinstance(node, ast.Name):
        if node.id in _NAMED_CONSTANTS:
            return Literal(_NAMED_CONSTANTS[node.id])
        return Column(node.id)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str | int | float | bool) or node.value is None:
            return Literal(node.value)
        raise ConditionError(f"literal {node.value!r} is not allowed")
    if isinstance(node, ast.Call):
        return _call(node)
    raise ConditionError(f"'{ast.unparse(node)}' is not allowed in a condition")


def _compare(node: ast.Compare) -> Node:
    parts: list[Node] = []
    left = node.left
    for op, right in zip(node.ops, node.comparators, strict=True):
        if isinstance(op, ast.In | ast.NotIn):
            parts.append(_membership(left, right, negate=isinstance(op, ast.NotIn)))
        elif type(op) in _CMP:
            parts.append(Compare(_CMP[type(op)], _convert(left), _convert(right)))
        else:
            raise ConditionError(f"comparison '{ast.unparse(node)}' is not allowed; use < <= > >= == != in")
        left = right
    return parts[0] if len(parts) == 1 else Logical("and", tuple(parts))


def _membership(left: ast.AST, right: ast.AST, *, negate: bool) -> Node:
    if isinstance(right, ast.List | ast.Tuple | ast.Set):
        values = []
        for elt in right.elts:
            lit = _convert(elt)
            if not isinstance(lit, Literal) or lit.value is None or isinstance(lit.value, bool):
                raise ConditionError(f"'in' needs a list of text or numbers, got '{ast.unparse(elt)}'")
            values.append(lit.value)
        if not values:
            raise ConditionError("'in' needs a non-empty list")
        return Membership(_convert(left), tuple(values), negate)
    if isinstance(right, ast.Name):
        item = _convert(left)
        if not isinstance(item, Literal) or not isinstance(item.value, str):
            raise ConditionError(f"'{ast.unparse(left)} in {right.id}' needs quoted text on the left")
        return Contains(Column(right.id), item.value, negate)
    raise ConditionError(f"'in' needs a literal list or a multi-valued column, got '{ast.unparse(right)}'")


def _call(node: ast.Call) -> Node:
    if not isinstance(node.func, ast.Name):
        raise ConditionError(f"'{ast.unparse(node.func)}' is not allowed; use one of: {', '.join(sorted(FUNCTIONS))}")
    name = node.func.id
    if name not in FUNCTIONS:
        raise ConditionError(f"function '{name}' is not allowed; use one of: {', '.join(sorted(FUNCTIONS))}")
    if node.keywords:
        raise ConditionError(f"{name}() takes positional arguments only")
    kinds = FUNCTIONS[name]
    if len(node.args) != len(kinds):
        raise ConditionError(f"{name}() takes {len(kinds)} argument(s), got {len(node.args)}")
    args: list[Node] = []
    for arg, kind in zip(node.args, kinds, strict=True):
        conv = _convert(arg)
        ok = (
            (kind == "column" and isinstance(conv, Column))
            or (kind == "text" and isinstance(conv, Literal) and isinstance(conv.value, str))
            or (kind == "number" and isinstance(conv, Literal) and isinstance(conv.value, int | float)
                and not isinstance(conv.value, bool) and conv.value >= 0)
        )
        if not ok:
            raise ConditionError(f"{name}(): argument '{ast.unparse(arg)}' must be a {kind}")
        args.append(conv)
    return Call(name, tuple(args))


def referenced_columns(node: Node) -> set[str]:
    """Column names a condition reads."""
    out: set[str] = set()
    for child in walk(node):
        if isinstance(child, Column):
            out.add(child.name)
    return out


def walk(node: Node):
    """Yield the node and all its descendants."""
    yield node
    if isinstance(node, Compare | Arithmetic):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, Membership):
        yield from walk(node.item)
    elif isinstance(node, Contains):
        yield node.column
    elif isinstance(node, Logical):
        for op in node.operands:
            yield from walk(op)
    elif isinstance(node, Not):
        yield from walk(node.operand)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)
