"""The console's one server-sent-event helper (linli.console.streams, D4/A3/K3): a viewer receives the
live events of every region where they hold one of the stream's permissions — and no others."""

from __future__ import annotations

import pytest

from linli.access.perms import AccessPerm
from linli.console.streams import _scope
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
