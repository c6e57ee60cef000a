"""H3 special-group tags (seen only by roles that need them) and H6 consent records."""

from __future__ import annotations

import pytest

from linli.audit.models import AuditEntry
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.orgs.models import AccountKind
from linli.people import presenters, selectors, services
from tests import factories as f


def test_H3_tags_need_special_group_perms(tree, worker_a, chief_a, chief_b):
    p = f.person(tree.grid_a, name="孙独居")
    with pytest.raises(Forbidden) as e:
        services.special_tag_add(actor=worker_a, person=p, group="elderly_alone")
    assert e.value.code == "person.special_group_forbidden"
    with pytest.raises(NotFound):
        services.special_tag_add(actor=chief_b, person=p, group="elderly_alone")
    with pytest.raises(Invalid):
        services.special_tag_add(actor=chief_a, person=p, group="vip")
    tag = services.special_tag_add(actor=chief_a, person=p, group="elderly_alone", level="一级")
    with pytest.raises(Conflict):
        services.special_tag_add(actor=chief_a, person=p, group="elderly_alone")
    assert selectors.person_tags(actor=chief_a, person=p) == [tag]
    assert selectors.person_tags(actor=worker_a, person=p) == []
    assert selectors.person_tags(actor=chief_b, person=p) == []
    services.special_tag_remove(actor=chief_a, tag=tag)
    assert selectors.person_tags(actor=chief_a, person=p) == []
    assert [e.action for e in AuditEntry.objects.order_by("seq")] == ["person.special_tag_add", "person.special_tag_remove"]


def test_H3_names_of_members_masked_without_special_group_view(tree, worker_a, chief_a):
    member, other = f.person(tree.grid_a, name="孙独居"), f.person(tree.grid_a, name="周普通")
    services.special_tag_add(actor=chief_a, person=member, group="disabled")
    rows = {p.pk: presenters.person_out(p, actor=worker_a) for p in selectors.person_search(actor=worker_a)}
    assert rows[member.pk]["name"] == "孙*居" and rows[member.pk]["special_tags"] == []
    assert rows[other.pk]["name"] == "周普通"
    out = presenters.person_out(selectors.person_get(actor=chief_a, person_id=member.pk), actor=chief_a)
    assert out["name"] == "孙独居" and [t["group"] for t in out["special_tags"]] == ["disabled"]


def test_H3_group_filter_and_list_are_forbidden_without_perm_and_audited(tree, worker_a, chief_a, chief_b):
    a, b = f.person(tree.grid_a), f.person(tree.grid_b)
    services.special_tag_add(actor=chief_a, person=a, group="low_income")
    services.special_tag_add(actor=chief_b, person=b, group="low_income")
    with pytest.raises(Forbidden) as e:
        selectors.person_search(actor=worker_a, group="low_income")
    assert e.value.code == "person.special_group_forbidden"
    with pytest.raises(Forbidden):
        selectors.special_group_list(actor=worker_a)
    assert list(selectors.person_search(actor=chief_a, group="low_income")) == [a]
    assert [t.person_id for t in selectors.special_group_list(actor=chief_a, group="low_income")] == [a.pk]
    assert list(selectors.special_group_list(actor=chief_a, region_id=tree.community_b.pk)) == []
    reads = AuditEntry.objects.filter(kind="read", action="person.special_group_list")
    assert reads.count() == 2 and reads.first().actor_id == chief_a.pk


def test_H6_consent_by_resident_self_and_staff(tree, worker_a, chief_b):
    p = f.person(tree.grid_a)
    resident = f.account(kind=AccountKind.RESIDENT, person=p)
    stranger = f.account(kind=AccountKind.RESIDENT, person=f.person(tree.grid_a))
    c = services.consent_grant(actor=resident, person=p, purpose="biometric_face", channel="portal")
    assert services.consent_grant(actor=resident, person=p, purpose="biometric_face", channel="portal") == c  # idempotent
    with pytest.raises(NotFound):
        services.consent_grant(actor=stranger, person=p, purpose="location", channel="portal")
    with pytest.raises(NotFound):
        services.consent_withdraw(actor=chief_b, person=p, purpose="biometric_face")
    with pytest.raises(Invalid):
        services.consent_grant(actor=worker_a, person=p, purpose="everything", channel="staff")
    services.consent_grant(actor=worker_a, person=p, purpose="data_processing", channel="paper")
    w = services.consent_withdraw(actor=resident, person=p, purpose="biometric_face")
    assert w.withdrawn_at is not None
    with pytest.raises(Conflict):
        services.consent_withdraw(actor=resident, person=p, purpose="biometric_face")
    again = services.consent_grant(actor=resident, person=p, purpose="biometric_face", channel="portal")
    assert again.pk != c.pk
    assert [x.purpose for x in selectors.my_consents(resident)] == ["biometric_face", "biometric_face", "data_processing"]
    assert selectors.my_person(resident) == p and selectors.my_person(worker_a) is None
    assert not selectors.my_consents(worker_a).exists()


def test_H6_my_residencies(tree):
    p = f.person(tree.grid_a)
    r = f.residency(p, f.house(tree.grid_a))
    f.residency(f.person(tree.grid_a), f.house(tree.grid_a))
    resident = f.account(kind=AccountKind.RESIDENT, person=p)
    assert list(selectors.my_residencies(resident)) == [r]
