"""Staff console pages. Each view parses input, calls selectors/services, and renders — nothing more.

Every view is wrapped by ``console_view``: anonymous or non-staff users go to the login page, and a
DomainError (NotFound → 404, Forbidden → 403, Invalid → 422 …) is shown as a friendly message.
"""

from __future__ import annotations

import datetime as dt

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from linli.core.errors import DomainError, Invalid, NotFound
from linli.core.pagination import paginate
from linli.core.web import SessionViews
from linli.orgs import selectors as org_selectors
from linli.orgs import services as org_services
from linli.orgs.perms import PERM_LABELS, Perm, covers
from linli.orgs.selectors import has_perm_anywhere, my_permissions
from linli.people import selectors as people
from linli.people import services as people_services
from linli.people.presenters import household_out, person_brief, person_out, residency_out, special_member_out
from linli.places import selectors as places

from . import dashboard
from .access import console_view, is_console_user, is_htmx
from .forms import (
    LocateForm,
    NameSearchForm,
    PersonSearchForm,
    RevealForm,
    TokenForm,
    special_group_choices,
)

PAGE_SIZE = 50


def _page(request, qs, order: str = "-id"):
    rows, next_cursor = paginate(qs, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, order=order)
    return {"rows": rows, "next_cursor": next_cursor, "is_first_page": not request.GET.get("cursor")}


def _crumbs(actor, regions, *, estate=None) -> list[dict]:
    """Breadcrumb entries; only regions inside the actor's scope are links (the others would 404)."""
    out = [{"name": r.name, "url": reverse("console:region", args=[r.pk]) if covers(actor, Perm.PLACE_VIEW, r.path) else None}
           for r in regions]
    if estate is not None:
        out.append({"name": estate.name, "url": reverse("console:estate", args=[estate.pk])})
    return out


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# ---- session, preferences ------------------------------------------------------------------


class ConsoleSession(SessionViews):
    """Staff and superusers sign in here; ``next`` may be any local URL (the landing page's switches too)."""

    namespace = "console"
    template = "console/login.html"
    sign_in = staticmethod(org_services.login)
    sign_out = staticmethod(org_services.logout)

    def destination(self, request, account):
        return self.next_url(request, self.home_url()) if is_console_user(account) else None

    def refusal(self) -> DomainError:
        return DomainError("console.not_staff", _("该账号不是工作人员账号，请使用居民服务入口登录。"))


_session = ConsoleSession()
login, logout, elder_toggle = _session.login, _session.logout, _session.elder_toggle


# ---- home ----------------------------------------------------------------------------------


@require_GET
@console_view
def home(request):
    actor = request.user
    perms = my_permissions(actor)
    return render(request, "console/home.html", {
        "scope": perms.get(Perm.PLACE_VIEW, []) or perms.get(Perm.PERSON_VIEW, []),
        "stats": dashboard.overview(actor=actor, perms=perms),
    })


# ---- me: profile, permissions, API tokens ----------------------------------------------------


def _me_context(request, **extra) -> dict:
    actor = request.user
    perms = my_permissions(actor)
    return {
        "perms": [{"code": code, "label": PERM_LABELS.get(code, code), "regions": regions} for code, regions in perms.items()],
        "tokens": org_selectors.tokens_for(actor=actor).order_by("-id")[:50],
        "token_form": TokenForm(),
        **extra,
    }


def _me_render(request, ctx: dict, status: int = 200):
    template = "console/me/_tokens.html" if is_htmx(request) else "console/me/me.html"
    return render(request, template, ctx, status=status)


@require_GET
@console_view
def me(request):
    return render(request, "console/me/me.html", _me_context(request))


@require_POST
@never_cache
@console_view
def token_create(request):
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _me_render(request, _me_context(request, token_form=form), status=422)
    expires_at = timezone.now() + dt.timedelta(days=form.cleaned_data["days"])
    token, raw = org_services.token_create(actor=request.user, name=form.cleaned_data["name"], expires_at=expires_at)
    return _me_render(request, _me_context(request, new_token=token, raw_token=raw))


@require_POST
@console_view
def token_revoke(request, token_id: int):
    token = org_selectors.token_get(actor=request.user, token_id=token_id)
    org_services.token_revoke(actor=request.user, token=token)
    return _me_render(request, _me_context(request, revoked=token))


# ---- places --------------------------------------------------------------------------------


@require_GET
@console_view
def places_tree(request):
    actor = request.user
    return render(request, "console/places/tree.html", {"roots": places.region_roots(actor=actor), "locate_form": LocateForm()})


@require_GET
@console_view
def region_children(request, region_id: int):
    actor = request.user
    region = places.region_get(actor=actor, region_id=region_id)
    children = places.region_children(actor=actor, region=region)
    return render(request, "console/places/_tree_nodes.html", {"nodes": children, "parent": region})


@require_GET
@console_view
def region_detail(request, region_id: int):
    actor = request.user
    region = places.region_get(actor=actor, region_id=region_id)
    return render(request, "console/places/region.html", {
        "region": region,
        "crumbs": _crumbs(actor, places.region_ancestors(region)),
        "children": places.region_children(actor=actor, region=region),
        "estates": places.estate_list(actor=actor, region_id=region.pk)[:20],
        "facilities": places.facility_list(actor=actor, region_id=region.pk)[:20],
        "locate_form": LocateForm(),
    })


@require_GET
@console_view
def region_boundaries(request, region_id: int):
    """GeoJSON of the region's children (or of the region itself when it has none) for the map."""
    actor = request.user
    region = places.region_get(actor=actor, region_id=region_id)
    data = places.boundaries_geojson(actor=actor, parent_id=region.pk)
    if not data.get("features") and region.boundary:
        data = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": region.pk, "geometry": region.boundary,
             "properties": {"id": region.pk, "name": region.name, "code": region.code, "level": region.level, "self": True}}
        ]}
    return JsonResponse(data)


@require_GET
@console_view
def region_coverage(request, region_id: int):
    """Facility capacity against the population each kind serves (P3); loaded lazily by the region page."""
    rows = places.facility_coverage(actor=request.user, region_id=region_id)
    return render(request, "console/places/_coverage.html", {"rows": rows})


@require_GET
@console_view
def locate(request):
    actor = request.user
    form = LocateForm(request.GET or None)
    found, nothing = None, None
    if form.is_valid():
        try:
            loc = places.locate_point(actor=actor, lat=form.cleaned_data["lat"], lng=form.cleaned_data["lng"])
            found = places.region_get(actor=actor, region_id=loc.grid_id or loc.community_id)
        except NotFound as exc:
            nothing = exc
    template = "console/places/_locate_result.html" if is_htmx(request) else "console/places/locate.html"
    return render(request, template, {
        "locate_form": form, "found": found, "nothing": nothing, "searched": form.is_bound,
        "crumbs": _crumbs(actor, places.region_ancestors(found)) if found else [],
    })


# ---- estates › buildings › units › houses --------------------------------------------------


@require_GET
@console_view
def estate_list(request):
    actor = request.user
    form = NameSearchForm(request.GET or None)
    q = form.cleaned_data.get("q") if form.is_valid() else None
    region_id = _int_or_none(request.GET.get("region"))
    region = places.region_get(actor=actor, region_id=region_id) if region_id else None
    qs = places.estate_list(actor=actor, region_id=region_id, q=q or None)
    return render(request, "console/places/estates.html", {"form": form, "region": region, **_page(request, qs)})


@require_GET
@console_view
def estate_detail(request, estate_id: int):
    actor = request.user
    estate = places.estate_get(actor=actor, estate_id=estate_id)
    qs = places.building_list(actor=actor, estate_id=estate.pk)
    return render(request, "console/places/estate.html", {
        "estate": estate, "crumbs": _crumbs(actor, [*places.region_ancestors(estate.region), estate.region]),
        **_page(request, qs, order="id"),
    })


@require_GET
@console_view
def building_detail(request, building_id: int):
    actor = request.user
    building = places.building_get(actor=actor, building_id=building_id)
    units = list(places.unit_list(actor=actor, building_id=building.pk))
    unit = next((u for u in units if u.pk == _int_or_none(request.GET.get("unit"))), None)
    qs = places.house_list(actor=actor, building_id=building.pk, unit_id=unit.pk if unit else None)
    return render(request, "console/places/building.html", {
        "building": building, "units": units, "unit": unit,
        "crumbs": _crumbs(actor, [*places.region_ancestors(building.region), building.region], estate=building.estate),
        **_page(request, qs, order="id"),
    })


@require_GET
@console_view
def house_detail(request, house_id: int):
    actor = request.user
    house = places.house_get(actor=actor, house_id=house_id)
    can_people = has_perm_anywhere(actor, Perm.PERSON_VIEW)
    residencies, households = [], []
    if can_people:
        try:
            residencies = list(people.residencies_for_house(actor=actor, house_id=house.pk, current_only=False).order_by("move_out", "-move_in"))
            households = list(people.households_for_house(actor=actor, house_id=house.pk))
        except NotFound:  # the house is visible as a place but its residents are outside the people scope
            can_people = False
    return render(request, "console/places/house.html", {
        "house": house, "crumbs": _crumbs(actor, [*places.region_ancestors(house.region), house.region], estate=house.building.estate), "can_people": can_people,
        "households": [household_out(h, actor=actor) for h in households],
        "residencies": [residency_out(r, actor=actor) for r in residencies],
    })


# ---- people --------------------------------------------------------------------------------


@require_GET
@console_view
def person_search(request):
    actor = request.user
    form = PersonSearchForm(request.GET or None)
    ctx: dict = {"form": form, "searched": False}
    status = 200
    if form.is_valid() and form.selector_kwargs():
        try:
            cursor = request.GET.get("cursor") or None
            rows, next_cursor = people.person_page(actor=actor, cursor=cursor, limit=PAGE_SIZE, **form.selector_kwargs())
            page = {"rows": rows, "next_cursor": next_cursor, "is_first_page": not cursor}
        except Invalid as exc:  # e.g. an ID number with a wrong check digit: say so next to the box
            ctx["error"], status = exc, exc.status
        else:
            ctx.update(page, searched=True, results=[{**person_brief(p, actor=actor), "region_name": p.region.name} for p in page["rows"]])
    template = "console/people/_results.html" if is_htmx(request) else "console/people/search.html"
    return render(request, template, ctx, status=status)


@require_GET
@console_view
def person_detail(request, person_id: int):
    actor = request.user
    person = people.person_get(actor=actor, person_id=person_id)
    residencies = people.residencies_for_person(actor=actor, person_id=person.pk).order_by("move_out", "-move_in")
    p = person_out(person, actor=actor)
    return render(request, "console/people/person.html", {
        "person": person, "p": p, "residencies": [residency_out(r, actor=actor) for r in residencies],
        "can_see_tags": people.can_see_special(actor, person),
        "can_reveal": covers(actor, Perm.PERSON_REVEAL, person.region.path), "reveal_form": RevealForm(),
    })


@require_POST
@never_cache
@console_view
def person_reveal(request, person_id: int):
    actor = request.user
    person = people.person_get(actor=actor, person_id=person_id)
    form = RevealForm(request.POST)
    if not form.is_valid():
        return render(request, "console/people/_reveal.html", {"person": person, "reveal_form": form}, status=422)
    values = people_services.person_reveal(
        actor=actor, person=person, fields=form.cleaned_data["reveal"], purpose=form.cleaned_data["purpose"]
    )
    return render(request, "console/people/_revealed.html", {"person": person, "values": values})


# ---- special groups ------------------------------------------------------------------------


@require_GET
@console_view
def group_index(request):
    actor = request.user
    return render(request, "console/people/groups.html", {"groups": dashboard.special_group_counts(actor=actor)})


@require_GET
@console_view
def group_list(request, group: str):
    actor = request.user
    labels = dict(special_group_choices())
    if group not in labels:
        raise NotFound("person.special_group_unknown")
    region_id = _int_or_none(request.GET.get("region"))
    region = places.region_get(actor=actor, region_id=region_id) if region_id else None
    qs = people.special_group_list(actor=actor, group=group, region_id=region_id)
    page = _page(request, qs)
    return render(request, "console/people/group.html", {
        "group": group, "group_label": labels[group], "region": region,
        "regions": places.region_list(actor=actor, level="community"),
        "items": [special_member_out(t, actor=actor) for t in page["rows"]], **page,
    })
