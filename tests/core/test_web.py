"""U1 O2 — the shared sign-in pieces of the console and the portal (linli.core.web): ``safe_next``
follows only local URLs, and only under the surface's prefix when it has one."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from linli.core.web import safe_next

# Open-redirect attempts: scheme-relative, absolute, backslash tricks browsers read as "//host".
EVIL = [
    "//evil.example",
    "//evil.example/portal/",
    "https://evil.example",
    "https://evil.example/portal/",
    "/\\evil",
    "/\\\\evil.example",
    "\\\\evil.example",
    "http:///evil.example",
    "javascript:alert(1)",
    " //evil.example",
]


@pytest.mark.parametrize("nxt", EVIL)
@pytest.mark.parametrize("prefix", ["", "/portal/"])
def test_U1_O2_safe_next_refuses_open_redirects(nxt, prefix):
    rf = RequestFactory()
    assert safe_next(rf.get("/", {"next": nxt}), "/home/", prefix=prefix) == "/home/"
    assert safe_next(rf.post("/", {"next": nxt}), "/home/", prefix=prefix) == "/home/"


def test_U1_O2_safe_next_follows_local_urls_under_the_prefix_only():
    rf = RequestFactory()
    assert safe_next(rf.get("/", {"next": "/console/places/?q=1"}), "/home/") == "/console/places/?q=1"
    assert safe_next(rf.post("/", {"next": "/"}), "/home/") == "/"  # the landing page's switches
    assert (
        safe_next(rf.get("/", {"next": "/portal/consents/"}), "/h/", prefix="/portal/") == "/portal/consents/"
    )
    assert safe_next(rf.get("/", {"next": "/console/"}), "/h/", prefix="/portal/") == "/h/"
    assert safe_next(rf.get("/", {"next": "/portalx/"}), "/h/", prefix="/portal/") == "/h/"
    assert safe_next(rf.get("/"), "/h/", prefix="/portal/") == "/h/"
    # a POSTed next wins over the query string one
    assert safe_next(rf.post("/?next=/a/", {"next": "/b/"}), "/h/") == "/b/"
