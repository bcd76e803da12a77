"""Numbers for people: 1.2M accounts, 34%, 12,480.

>>> human_number(1_234_567), human_number(48_200), human_number(9_876), human_number(None)
('1.2M', '48.2k', '9,876', '–')
>>> percent(0.3412), percent(0.004), percent(None)
('34%', '0.4%', '–')
"""

from __future__ import annotations

from typing import Any


def human_number(value: Any) -> str:
    if value is None:
        return "–"
    v = float(value)
    for threshold, size, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(v) >= threshold:
            shown = f"{v / size:.1f}".rstrip("0").rstrip(".")
            return f"{shown}{suffix}"
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


def percent(value: Any) -> str:
    if value is None:
        return "–"
    v = float(value) * 100
    if v != 0 and abs(v) < 1:
        return f"{v:.1f}%"
    return f"{v:.0f}%"


def score(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def signed_percent(value: Any) -> str:
    """A change or deviation as a signed percentage: +12%, −5%.

    >>> signed_percent(0.125), signed_percent(-0.05), signed_percent(None)
    ('+12%', '−5%', '–')
    """
    if value is None:
        return "–"
    text = percent(abs(float(value)))
    return ("−" if float(value) < 0 else "+") + text
