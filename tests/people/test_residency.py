"""H2: households, residency with move-in/move-out history, actual population (实住人口)."""

from __future__ import annotations

import datetime as dt

import pytest

from linli.audit.models import AuditEntry
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.orgs.perms import Perm
from linli.people import selectors, services
from tests import factories as f

D = dt.date


def test_H2_move_in_move_out_history(tree, worker_a):
    p = f.person(tree.grid_a)
    h1, h2 = f.house(tree.grid_a), f.house(tree.grid_a)
    r1 = services.residency_move_in(actor=worker_a, person=p, house=h1, relation="owner", move_in=D(2020, 1, 1))
    with pytest.raises(Conflict) as e:
        services.residency_move_in(actor=worker_a, person=p, house=h1, relation="owner", move_in=D(2021, 1, 1))
    assert e.value.code == "residency.already_current"
    services.residency_move_out(actor=worker_a, residency=r1, move_out=D(2022, 6, 30), reason="搬家")
    with pytest.raises(Conflict):
        services.residency_move_out(actor=worker_a, residency=r1, move_out=D(2022, 7, 1))
    services.residency_move_in(actor=worker_a, person=p, house=h2, relation="tenant", move_in=D(2022, 7, 1), lease_end=D(2023, 7, 1))
    services.residency_move_in(actor=worker_a, person=p, house=h1, relation="other", move_in=D(2024, 1, 1))  # back again
    history = list(selectors.residencies_for_person(actor=worker_a, person_id=p.pk).order_by("move_in"))
    assert [(r.house_id, r.move_out) for r in history] == [(h1.pk, D(2022, 6, 30)), (h2.pk, None), (h1.pk, None)]
    assert list(selectors.residencies_for_house(actor=worker_a, house_id=h1.pk)) == [history[2]]
    assert selectors.residencies_for_house(actor=worker_a, house_id=h1.pk, current_only=False).count() == 2
    assert [e.action for e in AuditEntry.objects.order_by("seq")] == ["residency.move_in", "residency.move_out", "residency.move_in", "residency.move_in"]


def test_H2_dates_and_relation_validated(tree, worker_a):
    p, h = f.person(tree.grid_a), f.house(tree.grid_a)
    with pytest.raises(Invalid) as e:
        services.residency_move_in(actor=worker_a, person=p, house=h, relation="tenant", move_in=D(2024, 1, 1), lease_end=D(2023, 1, 1))
    assert e.value.code == "residency.lease_end_before_move_in"
    with pytest.raises(Invalid) as e:
        services.residency_move_in(actor=worker_a, person=p, house=h, relation="lodger", move_in=D(2024, 1, 1))
    assert e.value.code == "residency.relation"
    r = services.residency_move_in(actor=worker_a, person=p, house=h, relation="tenant", move_in=D(2024, 1, 1))
    with pytest.raises(Invalid) as e:
        services.residency_move_out(actor=worker_a, residency=r, move_out=D(2023, 12, 31))
    assert e.value.code == "residency.move_out_before_move_in"


def test_H2_scope_house_outside_is_404_and_no_household_perm_is_403(tree, worker_a):
    p = f.person(tree.grid_a)
    house_b = f.house(tree.grid_b)
    with pytest.raises(NotFound):
        services.residency_move_in(actor=worker_a, person=p, house=house_b, relation="owner", move_in=D(2024, 1, 1))
    with pytest.raises(NotFound):
        selectors.house_get(actor=worker_a, house_id=house_b.pk)
    with pytest.raises(NotFound):
        selectors.residencies_for_house(actor=worker_a, house_id=house_b.pk)
    viewer = f.account(perms=[Perm.PERSON_VIEW], scope=tree.community_a)
    with pytest.raises(Forbidden):
        services.residency_move_in(actor=viewer, person=p, house=f.house(tree.grid_a), relation="owner", move_in=D(2024, 1, 1))
    person_b = f.person(tree.grid_b)
    with pytest.raises(NotFound):
        services.residency_move_in(actor=worker_a, person=person_b, house=f.house(tree.grid_a), relation="owner", move_in=D(2024, 1, 1))


def test_H2_households_and_update(tree, worker_a):
    head, member = f.person(tree.grid_a, name="赵大"), f.person(tree.grid_a, name="赵二")
    h, other = f.house(tree.grid_a), f.house(tree.grid_a)
    hh = services.household_create(actor=worker_a, house=h, head=head)
    assert hh.name == "赵大户"
    r = services.residency_move_in(actor=worker_a, person=member, house=h, relation="family_member", move_in=D(2020, 1, 1),
                                   household=hh, relation_to_head="子")
    other_hh = services.household_create(actor=worker_a, house=other, name="别户")
    with pytest.raises(Invalid):
        services.residency_update(actor=worker_a, residency=r, household=other_hh)
    services.residency_update(actor=worker_a, residency=r, is_actual=False, relation="tenant")
    r.refresh_from_db()
    assert (r.is_actual, r.relation) == (False, "tenant")
    rows = list(selectors.households_for_house(actor=worker_a, house_id=h.pk))
    assert [(x.pk, x.member_count) for x in rows] == [(hh.pk, 1)]
    with pytest.raises(Invalid):
        services.residency_update(actor=worker_a, residency=r, move_in=D(2000, 1, 1))


def test_H2_actual_population_counts_only_current_actual_in_subtree(tree, worker_a):
    ha, hb = f.house(tree.grid_a), f.house(tree.grid_b)
    owner, kid, tenant, away, gone = (f.person(tree.grid_a) for _ in range(5))
    for p, rel in ((owner, "owner"), (kid, "family_member"), (tenant, "tenant")):
        f.residency(p, ha, relation=rel)
    r_away = f.residency(away, ha, relation="owner")
    services.residency_update(actor=worker_a, residency=r_away, is_actual=False)
    r_gone = f.residency(gone, ha)
    services.residency_move_out(actor=worker_a, residency=r_gone, move_out=D(2021, 1, 1))
    f.residency(f.person(tree.grid_b), hb)
    street_officer = f.account(perms=[Perm.PERSON_VIEW], scope=tree.street)
    pop = selectors.actual_population(actor=street_officer, region_id=tree.community_a.pk)
    assert (pop["actual"], pop["registered_current"], pop["not_living"], pop["occupied_houses"]) == (3, 4, 1, 1)
    assert pop["by_relation"] == {"owner": 1, "family_member": 1, "tenant": 1, "other": 0}
    assert selectors.actual_population(actor=street_officer, region_id=tree.street.pk)["actual"] == 4
    with pytest.raises(NotFound):
        selectors.actual_population(actor=worker_a, region_id=tree.community_b.pk)
    with pytest.raises(NotFound):
        selectors.actual_population(actor=worker_a, region_id=tree.street.pk)
