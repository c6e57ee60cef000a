from __future__ import annotations

import pytest

from linli.orgs.perms import Perm
from tests import factories as f

STAFF_PERMS = [Perm.PERSON_VIEW, Perm.PERSON_EDIT, Perm.HOUSEHOLD_EDIT, Perm.PLACE_VIEW]
ALL_PEOPLE_PERMS = STAFF_PERMS + [Perm.PERSON_REVEAL, Perm.SPECIAL_GROUP_VIEW, Perm.SPECIAL_GROUP_EDIT]


@pytest.fixture
def worker_a(tree):
    """Community worker of community A: view/edit persons and households, no reveal, no special groups."""
    return f.account("worker_a", perms=STAFF_PERMS, scope=tree.community_a)


@pytest.fixture
def chief_a(tree):
    """Community A officer holding every people permission."""
    return f.account("chief_a", perms=ALL_PEOPLE_PERMS, scope=tree.community_a)


@pytest.fixture
def chief_b(tree):
    return f.account("chief_b", perms=ALL_PEOPLE_PERMS, scope=tree.community_b)
