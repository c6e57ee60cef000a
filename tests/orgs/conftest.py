import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """PBKDF2 at Django's default cost takes seconds on a shared CI core; tests of hashing opt back in."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
