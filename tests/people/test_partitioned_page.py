"""Person pages read per region on PostgreSQL (see linli.core.pagination.paginate ``partition``)."""

from linli.orgs.perms import Perm
from linli.people import selectors
from tests import factories as f


def test_H1_partitioned_pages_walk_every_person_once_in_id_order(tree, django_assert_max_num_queries):
    # a community with three grids, persons interleaved across them
    grids = [tree.grid_a] + [f.region("grid", tree.community_a, code=f"37010200100100{i}") for i in (2, 3)]
    made = [f.person(grids[i % 3], name=f"居民{i}").pk for i in range(23)]
    f.person(tree.grid_b, name="别处的人")
    worker = f.account(perms=[Perm.PERSON_VIEW], scope=tree.community_a)
    seen, cursor = [], None
    while True:
        with django_assert_max_num_queries(6):
            rows, cursor = selectors.person_page(actor=worker, cursor=cursor, limit=5)
        seen += [p.pk for p in rows]
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)


def test_H1_partitioned_page_keeps_filters(tree):
    f.person(tree.grid_a, name="王小明")
    f.person(tree.grid_a, name="李雷")
    worker = f.account(perms=[Perm.PERSON_VIEW], scope=tree.street)
    rows, _ = selectors.person_page(actor=worker, q="王")
    assert [p.name for p in rows] == ["王小明"]
