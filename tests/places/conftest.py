import pytest


@pytest.fixture(autouse=True)
def _fresh_spatial_index(settings):
    """Each test has its own database state: check the index fingerprint on every lookup."""
    from linli.places import spatial

    settings.LINLI_SPATIAL_INDEX_TTL = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # no password checks here; keep set-up fast
    spatial.invalidate()
    yield
    spatial.invalidate()
