import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
application = get_wsgi_application()


def _warm_and_freeze() -> None:
    """Import every URLconf and view now (Django would on the first request) and keep all of it out of
    later full garbage collections (``linli.core.runtime``): no request pays for walking them."""
    from django.urls import get_resolver

    from linli.core.runtime import freeze_startup_objects

    get_resolver().url_patterns  # noqa: B018 (imports the URLconfs and views)
    freeze_startup_objects()


_warm_and_freeze()
