"""L1 services and selectors: a call comes in, the caller is matched (masked, audited), the agent
answers from the knowledge base or opens a hotline case in one step, and ends the call."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.cases.models import Case, Channel
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.hotline import selectors as sel
from linli.hotline import services as svc
from linli.hotline.models import Call, CallArticle, Outcome
from tests import factories as f
from tests.cases.world import A_LAT, A_LNG, report

from .conftest import CALLER, CALLER_E164

pytestmark = pytest.mark.django_db


def test_L1_incoming_number_is_normalised_encrypted_and_masked(hw):
    call = svc.call_incoming(actor=hw.agent, caller=CALLER, external_id="cti-1")
    assert call.caller == CALLER_E164 and call.caller_masked == "138****2468"
    assert call.caller_index == hw.caller.phone_index  # same blind index as the people registry
    with connection.cursor() as cur:
        cur.execute("SELECT caller FROM hotline_call WHERE id = %s", [call.pk])
        stored = cur.fetchone()[0]
    assert "2468" not in stored and stored.startswith("v1:")
    entry = AuditEntry.objects.get(action="hotline.call_incoming", object_id=str(call.pk))
    assert "13805312468" not in str(entry.after) + str(entry.detail)


def test_L1_bad_number_is_422_and_withheld_number_is_allowed(hw):
    with pytest.raises(Invalid) as exc:
        svc.call_incoming(actor=hw.agent, caller="12ab")
    assert exc.value.code == "hotline.caller_invalid"
    call = svc.call_incoming(actor=hw.agent, caller="")
    assert call.caller_masked == "" and sel.caller_lookup(actor=hw.agent, call=call).matches == []


def test_L1_cti_event_is_idempotent_on_its_call_id(hw):
    first = svc.call_incoming(actor=hw.agent, caller=CALLER, external_id="cti-7")
    assert svc.call_incoming(actor=hw.agent, caller=CALLER, external_id="cti-7").pk == first.pk
    with pytest.raises(Conflict):
        svc.call_incoming(actor=hw.agent_b, caller=CALLER, external_id="cti-7")
    assert Call.objects.count() == 1


def test_L1_lookup_by_number_finds_person_house_and_case_history_and_audits(hw):
    old = report(hw.w, actor=hw.agent, channel="hotline", reporter_person=hw.caller, title="楼道灯不亮")
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    before = AuditEntry.objects.filter(action="hotline.caller_lookup").count()
    found = sel.caller_lookup(actor=hw.agent, call=call)
    assert [m.person.pk for m in found.matches] == [hw.caller.pk]
    assert [r.house_id for r in found.matches[0].homes] == [hw.w.house_a.pk]
    assert [c.pk for c in found.matches[0].cases] == [old.pk]
    entry = AuditEntry.objects.filter(action="hotline.caller_lookup").latest("seq")
    assert AuditEntry.objects.filter(action="hotline.caller_lookup").count() == before + 1
    assert entry.kind == "read" and entry.object_id == str(hw.caller.pk) and entry.actor_id == hw.agent.pk
    assert "13805312468" not in str(entry.detail)


def test_L1_lookup_without_match_shows_nobody_and_audits_nothing(hw):
    call = svc.call_incoming(actor=hw.agent, caller="13912345678")
    before = AuditEntry.objects.filter(action="hotline.caller_lookup").count()
    assert sel.caller_lookup(actor=hw.agent, call=call).matches == []
    assert AuditEntry.objects.filter(action="hotline.caller_lookup").count() == before


def test_L1_lookup_with_several_persons_on_one_number(hw, tree):
    husband = f.person(tree.grid_a, name="刘建国", phone=CALLER_E164)
    f.residency(husband, hw.w.house_a)
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    found = sel.caller_lookup(actor=hw.agent, call=call)
    assert {m.person.pk for m in found.matches} == {hw.caller.pk, husband.pk} and not found.more
    assert AuditEntry.objects.filter(action="hotline.caller_lookup", object_id__in=[str(hw.caller.pk), str(husband.pk)]).count() == 2
    assert [h.pk for h in sel.caller_houses(found)] == [hw.w.house_a.pk]  # the shared home once
    svc.call_link_person(actor=hw.agent, call=call, person=husband)
    call.refresh_from_db()
    assert call.person_id == husband.pk and call.region_id == tree.grid_a.pk  # filed under the caller's grid
    assert sel.call_get(actor=hw.supervisor_a, call_id=call.pk).pk == call.pk
    svc.call_link_person(actor=hw.agent, call=call, person=None)
    call.refresh_from_db()
    assert call.person_id is None and call.region_id == tree.city.pk  # back to the agent's area
    stranger = f.person(tree.grid_a, name="陈某", phone="+8613900001111")
    with pytest.raises(Invalid):
        svc.call_link_person(actor=hw.agent, call=call, person=stranger)


def test_L1_lookup_only_reveals_persons_in_the_agents_scope(hw):
    call = svc.call_incoming(actor=hw.agent_b, caller=CALLER)
    assert sel.caller_lookup(actor=hw.agent_b, call=call).matches == []  # the caller lives in community A
    assert not AuditEntry.objects.filter(action="hotline.caller_lookup", actor_id=hw.agent_b.pk).exists()


def test_L1_answer_from_kb_records_article_once(hw):
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    article = hw.articles["elderly-allowance"]
    use = svc.call_answer_from_kb(actor=hw.agent, call=call, article=article)
    assert svc.call_answer_from_kb(actor=hw.agent, call=call, article=article).pk == use.pk
    assert CallArticle.objects.filter(call=call).count() == 1 and use.article_version == article.version
    call.refresh_from_db()
    assert call.answered_at is not None
    svc.call_end(actor=hw.agent, call=call, outcome=Outcome.KB_ANSWER, category="consult")
    call.refresh_from_db()
    assert call.outcome == Outcome.KB_ANSWER and call.ended_at >= call.started_at
    with pytest.raises(Conflict):
        svc.call_answer_from_kb(actor=hw.agent, call=call, article=article)


def test_L1_draft_article_cannot_be_used(hw):
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    draft = hw.articles["elderly-allowance"]
    draft.status = "draft"
    with pytest.raises(Invalid):
        svc.call_answer_from_kb(actor=hw.agent, call=call, article=draft)


def test_L1_open_case_creates_hotline_case_linked_to_call(hw):
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    case = svc.call_open_case(actor=hw.agent, call=call, category=hw.w.cat, title="楼下路面塌陷", description="单元门口",
                              house=hw.w.house_a, person=hw.caller)
    call.refresh_from_db()
    assert call.case_id == case.pk and call.person_id == hw.caller.pk and call.region_id == hw.w.tree.grid_a.pk
    assert case.channel == Channel.HOTLINE and case.reporter_person_id == hw.caller.pk and case.intake_by_id == hw.agent.pk
    assert case.reporter_contact == CALLER_E164 and case.reporter_contact_masked == "138****2468"
    assert case.house_id == hw.w.house_a.pk and case.external_ref == f"call-{call.pk}"
    with pytest.raises(Conflict) as exc:
        svc.call_open_case(actor=hw.agent, call=call, category=hw.w.cat, title="再报一次", region=hw.w.tree.grid_a)
    assert exc.value.code == "hotline.case_exists"
    svc.call_end(actor=hw.agent, call=call, outcome=Outcome.CASE_OPENED, notes="已告知工单号")
    assert Case.objects.filter(channel=Channel.HOTLINE).count() == 1


def test_L1_open_case_offers_duplicate_candidates_until_confirmed(hw):
    existing = report(hw.w, lat=A_LAT, lng=A_LNG)
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    with pytest.raises(Conflict) as exc:
        svc.call_open_case(actor=hw.agent, call=call, category=hw.w.cat, title="人行道坏了", lat=A_LAT, lng=A_LNG + 0.0002)
    assert exc.value.code == "hotline.possible_duplicates"
    assert [c["id"] for c in exc.value.detail["candidates"]] == [existing.pk]
    assert not Case.objects.filter(channel=Channel.HOTLINE).exists()
    case = svc.call_open_case(actor=hw.agent, call=call, category=hw.w.cat, title="人行道坏了", lat=A_LAT, lng=A_LNG + 0.0002,
                              confirm_new=True)
    assert case.channel == Channel.HOTLINE and case.reporter_person_id is None


def test_L1_end_outcome_must_match_what_happened(hw):
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    for outcome, code in ((Outcome.CASE_OPENED, "hotline.outcome_needs_case"), (Outcome.KB_ANSWER, "hotline.outcome_needs_article"),
                          (Outcome.TRANSFERRED, "hotline.notes_required"), ("bogus", "hotline.outcome_invalid")):
        with pytest.raises(Invalid) as exc:
            svc.call_end(actor=hw.agent, call=call, outcome=outcome)
        assert exc.value.code == code
    with pytest.raises(Invalid):
        svc.call_end(actor=hw.agent, call=call, outcome=Outcome.OTHER, notes="x", category="nonsense")
    svc.call_end(actor=hw.agent, call=call, outcome=Outcome.ABANDONED)
    call.refresh_from_db()
    assert call.answered_at is None and call.outcome == Outcome.ABANDONED
    with pytest.raises(Conflict):
        svc.call_end(actor=hw.agent, call=call, outcome=Outcome.ABANDONED)


def test_L1_database_refuses_inconsistent_call_rows(hw):
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    for changes in ({"outcome": Outcome.OTHER}, {"ended_at": timezone.now()}, {"outcome": "nonsense", "ended_at": timezone.now()},
                    {"ended_at": call.started_at - dt.timedelta(minutes=1), "outcome": Outcome.OTHER},
                    {"ended_at": timezone.now(), "outcome": Outcome.CASE_OPENED}, {"direction": "sideways"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Call.objects.filter(pk=call.pk).update(**changes)


def test_L1_only_the_agent_works_a_call_others_get_403_or_404(hw):
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    with pytest.raises(NotFound):  # another agent, no hotline.view: the call does not exist for them
        sel.call_get(actor=hw.agent_b, call_id=call.pk)
    with pytest.raises(NotFound):
        svc.call_end(actor=hw.agent_b, call=call, outcome=Outcome.ABANDONED)
    call = svc.call_open_case(actor=hw.agent, call=call, category=hw.w.cat, title="井盖缺失", house=hw.w.house_a).hotline_calls.get()
    assert sel.call_get(actor=hw.supervisor_a, call_id=call.pk).pk == call.pk  # narrowed to grid A: in the supervisor's scope
    with pytest.raises(Forbidden):
        svc.call_end(actor=hw.supervisor_a, call=call, outcome=Outcome.ABANDONED)
    supervisor_b = f.account("sup_b", perms=["hotline.view"], scope=hw.w.tree.community_b)
    with pytest.raises(NotFound):
        sel.call_get(actor=supervisor_b, call_id=call.pk)
    assert list(sel.call_list(actor=supervisor_b)) == []
    with pytest.raises(Forbidden):
        svc.call_incoming(actor=hw.supervisor_a, caller=CALLER)


def test_L1_reveal_caller_number_needs_person_reveal_and_is_audited(hw, tree):
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    with pytest.raises(Forbidden):
        svc.call_reveal_caller(actor=hw.agent, call=call, purpose="回拨")
    chief = f.account("chief", perms=["hotline.view", "person.reveal"], scope=tree.city)
    with pytest.raises(Invalid):
        svc.call_reveal_caller(actor=chief, call=call, purpose="")
    assert svc.call_reveal_caller(actor=chief, call=call, purpose="回拨核实") == CALLER_E164
    entry = AuditEntry.objects.get(action="hotline.reveal_caller")
    assert entry.kind == "read" and entry.detail["purpose"] == "回拨核实"


def test_L1_call_list_filters(hw):
    c1 = svc.call_incoming(actor=hw.agent, caller=CALLER)
    svc.call_end(actor=hw.agent, call=c1, outcome=Outcome.ABANDONED)
    c2 = svc.call_incoming(actor=hw.agent, caller="13912345678")
    today = timezone.localdate()
    assert [c.pk for c in sel.call_list(actor=hw.agent, outcome=Outcome.ABANDONED)] == [c1.pk]
    assert {c.pk for c in sel.call_list(actor=hw.agent, date_from=today, date_to=today)} == {c1.pk, c2.pk}
    assert list(sel.call_list(actor=hw.agent, date_from=today + dt.timedelta(days=1))) == []
    assert [c.pk for c in sel.call_list(actor=hw.agent, is_open=True)] == [c2.pk]
    assert list(sel.call_list(actor=hw.agent, agent_id=hw.agent_b.pk)) == []
    with pytest.raises(Invalid):
        sel.call_list(actor=hw.agent, outcome="nope")
    with pytest.raises(Invalid):
        sel.call_list(actor=hw.agent, date_from=today, date_to=today - dt.timedelta(days=1))


def test_L1_demo_loader_writes_a_handful_of_past_calls(db):
    from django.core.management import call_command

    from linli.core.demo import ANCHOR
    from linli.knowledge.models import Article, ArticleVersion, Category
    from linli.knowledge.starter import load_starter
    from tests.cases.world import ensure_seed

    ensure_seed()
    load_starter(Category, Article, ArticleVersion)
    call_command("demo", persons=200, seed=3, verbosity=0)
    calls = list(Call.objects.select_related("agent", "case").order_by("started_at"))
    assert len(calls) == 5 and {c.agent.username for c in calls} == {"hotline"}
    assert all(c.ended_at and c.outcome and c.started_at.date() <= ANCHOR for c in calls)
    assert {c.outcome for c in calls} == {"kb_answer", "case_opened", "transferred", "abandoned"}
    opened = next(c for c in calls if c.outcome == "case_opened")
    assert opened.case.channel == Channel.HOTLINE and opened.case.reporter_person_id == opened.person_id is not None
    assert CallArticle.objects.count() == 2 and sel.caller_lookup(actor=calls[0].agent, call=calls[0]).matches
