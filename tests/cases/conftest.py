import pytest

from .world import ensure_seed, make_world


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_spatial_index():
    from linli.places import spatial

    spatial.invalidate()
    yield
    spatial.invalidate()


@pytest.fixture
def world(tree):
    return make_world(tree)


@pytest.fixture
def seeded(db):
    ensure_seed()
