"""The console's one server-sent-event helper (linli.console.streams, D4/A3/K3): a viewer receives the
live events of every region where they hold one of the stream's permissions — and, where an event kind
names its own permissions (the access stream), only the kinds they may read."""

from __future__ import annotations

import pytest

from linli.access.perms import AccessPerm
from linli.console.streams import _scope, event_filter
from linli.console.views_access import STREAM_KINDS, STREAM_PERMS
from linli.core.errors import Forbidden
from linli.orgs.models import RoleAssignment
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_A3_stream_scope_is_the_union_of_the_regions_of_the_perms_held(tree):
    desk_and_watch = f.account(perms=[AccessPerm.VISITOR_DESK], scope=tree.grid_a)
    RoleAssignment.objects.create(account=desk_and_watch, role=f.role("watch-b", [AccessPerm.WATCH_LIST]), region=tree.community_b)
    paths = _scope(desk_and_watch, (AccessPerm.LOG_VIEW, AccessPerm.VISITOR_DESK, AccessPerm.WATCH_LIST))
    assert sorted(paths) == sorted([tree.grid_a.path, tree.community_b.path])
    assert _scope(desk_and_watch, (AccessPerm.VISITOR_DESK,)) == [tree.grid_a.path]  # not the watch-list region
    assert _scope(f.account(superuser=True), (AccessPerm.LOG_VIEW,)) is None  # everywhere
    with pytest.raises(Forbidden):
        _scope(f.account(perms=["person.view"], scope=tree.city), (AccessPerm.LOG_VIEW, AccessPerm.WATCH_LIST))


def test_A3_A4_each_access_event_kind_reaches_only_those_who_may_read_what_it_announces(tree):
    a, b = tree.grid_a.path, tree.community_b.path
    desk = f.account(perms=[AccessPerm.VISITOR_DESK], scope=tree.community_a)
    allowed = event_filter(desk, STREAM_PERMS, STREAM_KINDS)
    assert allowed({"kind": "visitor", "id": 1, "status": "pending", "region": a})
    assert not allowed({"kind": "visitor", "id": 2, "status": "pending", "region": b})  # another community
    assert not allowed({"kind": "denied", "gate": 1, "region": a})  # the gate log needs access.log_view
    assert not allowed({"kind": "watch_hit", "id": 1, "region": a})  # watch-list alarms need access.watch_list
    guard = f.account(perms=[AccessPerm.LOG_VIEW, AccessPerm.WATCH_LIST], scope=tree.community_a)
    allowed = event_filter(guard, STREAM_PERMS, STREAM_KINDS)
    assert allowed({"kind": "denied", "gate": 1, "region": a}) and allowed({"kind": "watch_hit", "id": 1, "region": a})
    assert not allowed({"kind": "visitor", "id": 1, "region": a}) and not allowed({"kind": "denied", "gate": 2, "region": b})
    assert not allowed({"kind": ["denied"], "region": 7}) and not allowed({"kind": "denied"})  # malformed: dropped
    boss = f.account(superuser=True)
    assert event_filter(boss, STREAM_PERMS, STREAM_KINDS)({"kind": "watch_hit", "id": 1, "region": b})
