"""Figures for the console home page, computed on the scoped querysets the selectors return.

Nothing here reads a table directly: every number starts from a selector that already limits the
rows to the actor's scope, then aggregates in the database (one query per figure).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.orgs.perms import Perm
from linli.people import selectors as people
from linli.people.models import Relation, SpecialGroup
from linli.places import selectors as places
from linli.places.models import HouseUse, Level

AGE_BANDS = [(0, 17, "0–17"), (18, 34, "18–34"), (35, 59, "35–59"), (60, 79, "60–79"), (80, 150, "80+")]


def _years_ago(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def age_band_filters(today: dt.date) -> dict[str, Q]:
    """Q per age band on birth_date: born after (today − (hi+1) years) and on or before (today − lo years)."""
    return {
        label: Q(birth_date__gt=_years_ago(today, hi + 1), birth_date__lte=_years_ago(today, lo))
        for lo, hi, label in AGE_BANDS
    }


def special_group_counts(*, actor) -> list[dict[str, Any]]:
    counts = {row["group"]: row["n"] for row in people.special_group_list(actor=actor).values("group").annotate(n=Count("id")).order_by()}
    return [{"group": g, "label": label, "count": counts.get(g, 0)} for g, label in SpecialGroup.choices]


def overview(*, actor, perms: dict[str, list[dict]]) -> dict[str, Any]:
    out: dict[str, Any] = {"charts": {}}
    if Perm.PLACE_VIEW in perms:
        by_level = dict(places.region_list(actor=actor).values_list("level").annotate(n=Count("id")).order_by())
        out["regions"] = [{"level": lv.value, "label": lv.label, "count": by_level.get(lv.value, 0)} for lv in Level]
        out["estates"] = places.estate_list(actor=actor).count()
        use = dict(places.house_list(actor=actor).values_list("use").annotate(n=Count("id")).order_by())
        out["houses"] = sum(use.values())
        out["charts"]["house_use"] = {
            "title": _("房屋使用情况"), "kind": "pie",
            "labels": [u.label for u in HouseUse], "values": [use.get(u.value, 0) for u in HouseUse],
        }
    if Perm.PERSON_VIEW in perms:
        bands = age_band_filters(timezone.localdate())
        agg = people.person_search(actor=actor).aggregate(total=Count("id"), **{k: Count("id", filter=q) for k, q in bands.items()})
        out["persons"] = agg.pop("total")
        out["charts"]["age_bands"] = {"title": _("人员年龄结构"), "kind": "bar", "labels": list(agg), "values": list(agg.values())}
        actual = [people.actual_population(actor=actor, region_id=r["id"]) for r in perms[Perm.PERSON_VIEW]]
        out["actual_population"] = sum(a["actual"] for a in actual)
        out["occupied_houses"] = sum(a["occupied_houses"] for a in actual)
        out["charts"]["relations"] = {
            "title": _("实住人口（按居住关系）"), "kind": "bar",
            "labels": [r.label for r in Relation], "values": [sum(a["by_relation"].get(r.value, 0) for a in actual) for r in Relation],
        }
    if Perm.SPECIAL_GROUP_VIEW in perms:
        groups = special_group_counts(actor=actor)
        out["special_groups"] = groups
        out["charts"]["special_groups"] = {
            "title": _("特殊人群"), "kind": "bar", "labels": [g["label"] for g in groups], "values": [g["count"] for g in groups],
        }
    return out
