"""Alarm rules (D3): validation, compilation and evaluation on the ingest path.

A condition rule has ``conditions`` combined by ``match`` ("all" / "any") over ONE device:

- ``{"type": "threshold", "key": "temp", "op": ">", "value": 60, "clear": 55}`` — ops > >= < <= == !=.
  Hysteresis: triggers at ``value``; once the rule is active it stays active until the reading crosses
  ``clear`` (for > / >= it must fall to ``clear`` or below, for < / <= rise to ``clear`` or above).
- ``{"type": "rate", "key": "pressure", "op": "<", "value": -0.1, "per_s": 60}`` — change of the key
  per ``per_s`` seconds between the previous and the current reading.
- ``{"type": "event", "key": "event", "values": ["fall", "sos"]}`` — the message carries the key with
  one of the values. A rule with an event condition is *momentary*: it raises (or, while its alarm is
  open, counts another occurrence) and is never auto-cleared — a person clears it.

``duration_s``: the combined condition must hold that long (by reading timestamps; the periodic sweep
also promotes pending rules whose last reading keeps the condition true past the duration).
An offline rule (``kind="offline"``) raises when no data arrived for ``offline_minutes`` and clears on
the next message. Device rules override type rules with the same ``code``.

Evaluation is pure (no database): ``evaluate_device`` takes the compiled rules, the stored rule states
and the device's readings and returns the new states and the alarm actions to carry out.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from linli.core.errors import Invalid
from linli.core.i18n import Msg

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne}
KEY_MAX = 64


@dataclass(frozen=True, slots=True)
class Cond:
    type: str
    key: str
    op: str = ">"
    value: float = 0.0
    clear: float | None = None
    values: frozenset[str] = frozenset()
    per_s: float = 1.0


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: int
    code: str
    kind: str
    conds: tuple[Cond, ...]
    match: str
    duration: dt.timedelta
    severity: str
    message: str
    create_case: bool
    offline_minutes: int | None
    keys: frozenset[str]
    momentary: bool
    needs_latest: bool


@dataclass(slots=True)
class State:
    """Mirror of a RuleState row (``exists`` = row in the table)."""

    pending_since: dt.datetime | None = None
    active: bool = False
    last_ts: dt.datetime | None = None
    last_value: float | None = None
    exists: bool = False
    dirty: bool = False

    @property
    def at_rest(self) -> bool:
        return self.pending_since is None and not self.active


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # "raise" | "clear"
    rule: CompiledRule
    at: dt.datetime
    key: str = ""
    value: float | None = None
    value_text: str = ""


@dataclass(slots=True)
class Reading:
    value: float | None
    text: str | None
    ts: dt.datetime


# ---- validation ----------------------------------------------------------------------------------
def _bad(zh: str, en: str, *, index: int | None = None, **fmt: Any) -> Invalid:
    """A rule-condition error in Chinese and English; ``detail`` names the condition and the reason."""
    prefix_zh, prefix_en = ("第{n}个条件：", "condition {i}: ") if index is not None else ("", "")
    n = {"n": index + 1, "i": index} if index is not None else {}
    reason_zh = (prefix_zh + zh).format(**n, **fmt)
    reason_en = (prefix_en + en).format(**n, **fmt)
    detail: dict[str, Any] = {"reason": reason_en}
    if index is not None:
        detail["condition"] = index
    return Invalid("rule.invalid_condition", Msg("规则条件有误：{reason_zh}", "Invalid rule condition: {reason_en}"),
                   detail=detail, reason_zh=reason_zh, reason_en=reason_en)


def validate_conditions(conditions: Any, match: str) -> list[dict]:
    """Return normalised conditions or raise Invalid("rule.invalid_condition")."""
    if match not in ("all", "any"):
        raise _bad("组合方式只能是“全部满足”(all)或“任一满足”(any)", "match must be all or any")
    if not isinstance(conditions, list) or not conditions or len(conditions) > 10:
        raise _bad("条件须为 1 到 10 项的列表", "conditions must be a list of 1 to 10 items")
    out: list[dict] = []
    for i, c in enumerate(conditions):
        if not isinstance(c, dict):
            raise _bad("格式不正确，应为对象", "is not an object", index=i)
        kind = c.get("type")
        key = c.get("key")
        if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX:
            raise _bad("须填写读数项(key)，最长 {max} 个字符", "key required (at most {max} characters)", index=i, max=KEY_MAX)
        if kind == "threshold" or kind == "rate":
            op = c.get("op")
            if op not in OPS:
                raise _bad("比较符须为 {ops} 之一", "op must be one of {ops}", index=i, ops=" ".join(OPS))
            value = c.get("value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad("阈值须为数字", "value must be a number", index=i)
            norm: dict[str, Any] = {"type": kind, "key": key, "op": op, "value": float(value)}
            if kind == "threshold" and c.get("clear") is not None:
                clear = c["clear"]
                if isinstance(clear, bool) or not isinstance(clear, int | float):
                    raise _bad("恢复值须为数字", "clear must be a number", index=i)
                if op in (">", ">=") and clear > value or op in ("<", "<=") and clear < value:
                    raise _bad("恢复值须在阈值的正常一侧（回差）", "clear level must be on the normal side of the trigger level", index=i)
                if op in ("==", "!="):
                    raise _bad("设置恢复值时比较符须为 > >= < <=", "clear level needs an ordering operator", index=i)
                norm["clear"] = float(clear)
            if kind == "rate":
                per_s = c.get("per_s", 1)
                if isinstance(per_s, bool) or not isinstance(per_s, int | float) or per_s <= 0:
                    raise _bad("变化率的时间单位(per_s)须为正数", "per_s must be a positive number", index=i)
                norm["per_s"] = float(per_s)
        elif kind == "event":
            values = c.get("values")
            if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
                raise _bad("事件值须为非空的文本列表", "values must be a non-empty list of strings", index=i)
            norm = {"type": "event", "key": key, "values": values}
        else:
            raise _bad("类型须为阈值(threshold)、变化率(rate)或事件(event)", "type must be threshold, rate or event", index=i)
        out.append(norm)
    return out


def compile_rule(r: Any) -> CompiledRule:
    """From a Rule row (or any object with the same attributes)."""
    conds = tuple(
        Cond(type=c["type"], key=c["key"], op=c.get("op", ">"), value=float(c.get("value", 0) or 0), clear=c.get("clear"),
             values=frozenset(c.get("values", ())), per_s=float(c.get("per_s", 1) or 1))
        for c in (r.conditions or [])
    )
    keys = frozenset(c.key for c in conds)
    return CompiledRule(
        id=r.id, code=r.code, kind=r.kind, conds=conds, match=r.match, duration=dt.timedelta(seconds=r.duration_s or 0),
        severity=r.severity, message=r.message or r.name, create_case=r.create_case, offline_minutes=r.offline_minutes,
        keys=keys, momentary=any(c.type == "event" for c in conds),
        needs_latest=len(keys) > 1 or any(c.type == "rate" for c in conds),
    )


# ---- the rule book (which rules apply to which device) -------------------------------------------
@dataclass
class RuleBook:
    by_type: dict[int, dict[str, CompiledRule]] = field(default_factory=dict)
    overrides: dict[int, dict[str, CompiledRule | None]] = field(default_factory=dict)  # None = disabled
    version: int = -1

    @classmethod
    def from_rows(cls, rows: Iterable[Any], version: int = 0) -> RuleBook:
        book = cls(version=version)
        for r in rows:
            compiled = compile_rule(r) if r.enabled else None
            if r.device_id:
                book.overrides.setdefault(r.device_id, {})[r.code] = compiled
            elif compiled is not None:
                book.by_type.setdefault(r.device_type_id, {})[r.code] = compiled
        return book

    def for_device(self, device_id: int, type_id: int) -> list[CompiledRule]:
        base = self.by_type.get(type_id, {})
        over = self.overrides.get(device_id)
        if not over:
            return list(base.values())
        merged = dict(base)
        merged.update(over)
        return [r for r in merged.values() if r is not None]


# ---- evaluation ----------------------------------------------------------------------------------
def _cond_holds(c: Cond, active: bool, vals: dict[str, Reading], prev: dict[str, Reading], now_keys: set[str]) -> tuple[bool, str, float | None, str]:
    r = vals.get(c.key)
    if c.type == "event":
        ok = c.key in now_keys and r is not None and r.text in c.values
        return ok, c.key, None, (r.text or "") if ok and r else ""
    if r is None or r.value is None:
        return False, c.key, None, ""
    v = r.value
    if c.type == "threshold":
        if active and c.clear is not None:
            ok = v > c.clear if c.op in (">", ">=") else v < c.clear
        else:
            ok = OPS[c.op](v, c.value)
        return ok, c.key, v, ""
    # rate
    p = prev.get(c.key)
    if c.key not in now_keys or p is None or p.value is None or r.ts <= p.ts:
        return False, c.key, v, ""
    rate = (v - p.value) / (r.ts - p.ts).total_seconds() * c.per_s
    return OPS[c.op](rate, c.value), c.key, v, ""


def _rule_holds(rule: CompiledRule, active: bool, vals, prev, now_keys) -> tuple[bool, str, float | None, str]:
    results = [_cond_holds(c, active, vals, prev, now_keys) for c in rule.conds]
    ok = all(r[0] for r in results) if rule.match == "all" else any(r[0] for r in results)
    first = next((r for r in results if r[0]), results[0])
    return ok, first[1], first[2], first[3]


def evaluate_device(
    rules: list[CompiledRule],
    states: dict[int, State],
    latest: dict[str, Reading],
    ticks: list[tuple[dt.datetime, dict[str, Reading]]],
) -> list[Action]:
    """Run ``rules`` over the device's new readings ``ticks`` (sorted by time; one dict of key → reading
    per timestamp). ``latest`` holds the readings before this batch (mutated to the newest);
    ``states`` (rule id → State) is mutated; returns the raise/clear actions in order."""
    actions: list[Action] = []
    cond_rules = [r for r in rules if r.kind == "condition" and r.conds]
    # Any data ends an offline alarm.
    for r in rules:
        if r.kind == "offline":
            st = states.get(r.id)
            if st is not None and st.active and ticks:
                st.active, st.pending_since, st.dirty = False, None, True
                actions.append(Action("clear", r, ticks[0][0]))
    for ts, readings in ticks:
        prev = dict(latest)
        latest.update(readings)
        now_keys = set(readings)
        for rule in cond_rules:
            if not (rule.keys & now_keys):
                continue
            st = states.setdefault(rule.id, State())
            if st.last_ts is not None and ts < st.last_ts:
                continue  # an older reading arriving late does not move the state back in time
            ok, key, value, text = _rule_holds(rule, st.active and not rule.momentary, latest, prev, now_keys)
            st.last_ts, st.last_value, st.dirty = ts, value, True
            if rule.momentary:
                if ok:
                    actions.append(Action("raise", rule, ts, key, value, text))
                continue
            if ok:
                if st.active:
                    continue
                if st.pending_since is None:
                    st.pending_since = ts
                if ts - st.pending_since >= rule.duration:
                    st.active, st.pending_since = True, None
                    actions.append(Action("raise", rule, ts, key, value, text))
            else:
                st.pending_since = None
                if st.active:
                    st.active = False
                    actions.append(Action("clear", rule, ts, key, value, text))
    return actions
