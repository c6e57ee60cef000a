import pytest

from .world import make_world


@pytest.fixture
def world(tree):
    return make_world(tree)
