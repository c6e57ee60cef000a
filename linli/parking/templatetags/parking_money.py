"""``{{ fen|yuan }}``: integer fen shown as yuan with two decimals (¥12.50); ``{{ wh|kwh }}``."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def yuan(fen) -> str:
    try:
        n = int(fen)
    except (TypeError, ValueError):
        return "—"
    sign = "-" if n < 0 else ""
    return f"{sign}¥{abs(n) // 100}.{abs(n) % 100:02d}"


@register.filter
def kwh(wh) -> str:
    try:
        return f"{int(wh) / 1000:.3f}"
    except (TypeError, ValueError):
        return "—"
