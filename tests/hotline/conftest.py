"""Hotline tests (L1): the cases World (tree, categories, agents), the knowledge starter set, and a
caller registered with her number in a house of grid A."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from linli.knowledge.models import Article, ArticleVersion, Category
from linli.knowledge.starter import load_starter
from linli.orgs.models import Account
from linli.people.models import Person
from tests import factories as f
from tests.cases.world import World, make_world

CALLER = "138 0531 2468"  # as an agent types it
CALLER_E164 = "+8613805312468"


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path):
    from linli.places import spatial

    settings.MEDIA_ROOT = tmp_path
    spatial.invalidate()
    yield
    spatial.invalidate()


@dataclass
class HotlineWorld:
    w: World
    caller: Person  # 王秀兰, registered with CALLER, lives in house_a (grid A)
    agent: Account  # case.intake + person.view over the city (the cases World's hotline account)
    agent_b: Account  # intake and person.view only in community B
    supervisor_a: Account  # hotline.view over community A
    articles: dict[str, Article]


@pytest.fixture
def hw(tree) -> HotlineWorld:
    w = make_world(tree)
    load_starter(Category, Article, ArticleVersion)
    caller = f.person(tree.grid_a, name="王秀兰", phone=CALLER_E164, gender="F")
    f.residency(caller, w.house_a)
    return HotlineWorld(
        w=w, caller=caller, agent=w.hotline,
        agent_b=f.account("agent_b", perms=["case.view", "case.intake", "person.view"], scope=tree.community_b),
        supervisor_a=f.account("sup_a", perms=["hotline.view"], scope=tree.community_a),
        articles={a.slug: a for a in Article.objects.all()},
    )
