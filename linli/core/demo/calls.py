"""Demo hotline calls (L1): a handful of past calls taken by the demo agent ``hotline`` — answered
from the knowledge base, one that opened a hotline case, a transferred one, an abandoned one and one
from an unregistered number — written through the hotline services so they look like real work."""

from __future__ import annotations

import datetime as dt

# (minutes before ANCHOR evening, caller kind, what happened, details)
_PLAN = [
    (60 * 24 * 6, "resident", "kb", {"article": "elderly-allowance", "category": "consult", "notes": "询问高龄津贴申领，已告知材料与窗口。"}),
    (60 * 24 * 4, "resident", "case", {"category": "complaint", "title": "楼道照明损坏", "description": "来电反映单元楼道灯坏了一周，夜间出行不便。",
                                       "notes": "已登记工单，告知工单号。"}),
    (60 * 24 * 3, "stranger", "kb", {"article": "garbage-sorting", "category": "consult", "notes": "咨询垃圾分类投放时间。"}),
    (60 * 24 * 2, "resident", "transferred", {"category": "help", "notes": "供水抢修问题，已转接供水服务热线。"}),
    (60 * 5, "stranger", "abandoned", {"category": "", "notes": ""}),
]
CASE_CATEGORY = "facility-streetlight"  # 路灯故障 (seeded by the cases migration)


def build_calls(*, agent, persons, now: dt.datetime, log=print) -> int:
    """Write the demo calls for ``agent``; ``persons`` are (person, house) pairs registered with a phone."""
    from linli.cases.models import Category
    from linli.hotline import services as svc
    from linli.hotline.models import Outcome
    from linli.knowledge.models import Article

    if not persons:
        return 0
    category = Category.objects.filter(code=CASE_CATEGORY).first() or Category.objects.filter(is_active=True).first()
    articles = {a.slug: a for a in Article.objects.filter(status="published")}
    made = 0
    for i, (minutes_ago, kind, what, d) in enumerate(_PLAN):
        person, house = persons[i % len(persons)]
        start = now - dt.timedelta(minutes=minutes_ago)
        caller = person.phone if kind == "resident" else f"+86139{53100000 + i * 7919:08d}"
        call = svc.call_incoming(actor=agent, caller=caller, external_id=f"demo-{i + 1:04d}", now=start)
        if kind == "resident":
            svc.call_link_person(actor=agent, call=call, person=person)
        outcome = Outcome.OTHER
        if what == "kb" and d["article"] in articles:
            svc.call_answer_from_kb(actor=agent, call=call, article=articles[d["article"]], now=start + dt.timedelta(minutes=1))
            outcome = Outcome.KB_ANSWER
        elif what == "case" and category is not None:
            svc.call_open_case(actor=agent, call=call, category=category, title=d["title"], description=d["description"], house=house,
                               person=person, confirm_new=True, now=start + dt.timedelta(minutes=3))
            outcome = Outcome.CASE_OPENED
        elif what == "transferred":
            outcome = Outcome.TRANSFERRED
        elif what == "abandoned":
            outcome = Outcome.ABANDONED
        svc.call_end(actor=agent, call=call, outcome=outcome, notes=d["notes"] or ("演示来电" if outcome == Outcome.OTHER else ""),
                     category=d["category"], now=start + dt.timedelta(minutes=5))
        made += 1
    log(f"  {made} hotline calls")
    return made
