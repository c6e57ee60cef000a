import pytest

from linli.knowledge.models import Article, ArticleVersion, Category
from linli.knowledge.starter import load_starter
from linli.orgs.models import AccountKind
from tests import factories as f


@pytest.fixture
def kb(db):
    """The starter set (a transactional test elsewhere in the run may have flushed the migration's rows)."""
    load_starter(Category, Article, ArticleVersion)
    return {a.slug: a for a in Article.objects.all()}


@pytest.fixture
def resident(tree):
    me = f.person(tree.grid_a, name="李居民")
    f.residency(me, f.house(tree.grid_a))
    return f.account("kb_resident", kind=AccountKind.RESIDENT, person=me)


@pytest.fixture
def editor(tree):
    return f.account("kb_editor", perms=["knowledge.view", "knowledge.edit"], scope=tree.city)


@pytest.fixture
def viewer(tree):
    return f.account("kb_viewer", perms=["knowledge.view"], scope=tree.community_a)
