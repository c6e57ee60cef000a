"""U1 — "UI language zh-Hans by default, English available": the one project catalogue
(locale/en/LC_MESSAGES/django.po) translates every marked string, its compiled .mo matches it, and
with the English cookie the main console and portal pages show no Chinese in nav, headings, buttons."""

from __future__ import annotations

import ast
import gettext
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from linli.orgs import perms as org_perms
from linli.orgs.models import AccountKind
from linli.places.models import Level
from tests import factories as f

PO = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# What `makemessages` skips in this project (see the header of django.po).
NOT_SCANNED = {"locale", "static", "var", "tests", "node_modules"}
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdfr]|%[sdfr]|%%")


# ---- catalogue ------------------------------------------------------------------------------------

def read_po(path: Path) -> list[dict]:
    """Entries of a .po file as dicts: flags (set), msgctxt, msgid, msgid_plural, msgstr / msgstr[n]."""
    entries, cur, last = [], {}, None

    def flush():
        nonlocal cur
        if "msgid" in cur:
            entries.append(cur)
        cur = {}

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("#~"):
            continue  # obsolete entry: not used by gettext
        elif line.startswith("#,"):
            if "msgid" in cur:
                flush()
            cur.setdefault("flags", set()).update(x.strip() for x in line[2:].split(","))
        elif line.startswith("#"):
            if "msgid" in cur:
                flush()
        elif line.startswith('"'):
            cur[last] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            if key in ("msgctxt", "msgid") and "msgid" in cur:
                flush()
            cur[key] = ast.literal_eval(value)
            last = key
    flush()
    return entries


def key(e: dict) -> tuple:
    return e.get("msgctxt"), e["msgid"], e.get("msgid_plural")


def translations(e: dict) -> list[str]:
    return [v for k, v in sorted(e.items()) if k.startswith("msgstr")]


@pytest.fixture(scope="module")
def catalogue() -> list[dict]:
    return [e for e in read_po(PO) if e["msgid"]]


def test_U1_project_has_one_english_catalogue():
    assert PO.is_file() and MO.is_file()
    base = Path(settings.BASE_DIR)
    others = [p for top in ("linli", "templates") for p in (base / top).rglob("locale") if p.is_dir()]
    assert others == [], "translations live only in locale/ (settings.LOCALE_PATHS)"


def test_U1_catalogue_has_no_untranslated_or_fuzzy_entries(catalogue):
    assert len(catalogue) > 1000
    fuzzy = [e["msgid"] for e in catalogue if "fuzzy" in e.get("flags", ())]
    empty = [e["msgid"] for e in catalogue if not all(s.strip() for s in translations(e))]
    assert fuzzy == [] and empty == []
    header = next(e for e in read_po(PO) if e["msgid"] == "")
    assert "fuzzy" not in header.get("flags", ()) and "Language: en" in header["msgstr"]


def test_U1_translations_keep_every_placeholder(catalogue):
    wrong = []
    for e in catalogue:
        wanted = sorted(PLACEHOLDER.findall(e["msgid"]))
        plural = sorted(PLACEHOLDER.findall(e.get("msgid_plural", e["msgid"])))
        for i, s in enumerate(translations(e)):
            expected = plural if i and "msgid_plural" in e else wanted
            # a singular form may drop the count ("1 photo"), but must not invent placeholders
            got = sorted(PLACEHOLDER.findall(s))
            if not (got == expected or ("msgid_plural" in e and set(got) <= set(expected))):
                wrong.append((e["msgid"], s))
    assert wrong == []


def test_U1_compiled_mo_matches_the_po(catalogue):
    with MO.open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    stale = []
    for e in catalogue:
        if "msgid_plural" in e:
            got = [mo.ngettext(e["msgid"], e["msgid_plural"], n) for n in (1, 2)]
            want = [e["msgstr[0]"], e["msgstr[1]"]]
        else:
            ident = f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]
            got, want = mo.gettext(ident), e["msgstr"]
        if got != want:
            stale.append(e["msgid"])
    assert stale == [], "run `manage.py compilemessages -l en --ignore=.venv` and commit django.mo"


def test_U1_every_marked_string_is_in_the_catalogue(catalogue, tmp_path, settings, monkeypatch):
    """Extract with the project's own makemessages into a scratch catalogue and compare msgids.

    The scratch dir links to the scanned top-level folders, so nothing in the repository is written."""
    base = Path(settings.BASE_DIR)
    src = tmp_path / "src"
    src.mkdir()
    for entry in base.iterdir():
        if entry.name.startswith(".") or entry.name in NOT_SCANNED:
            continue
        (src / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    scratch = tmp_path / "locale"
    scratch.mkdir()
    settings.LOCALE_PATHS = [scratch]
    monkeypatch.chdir(src)
    call_command("makemessages", locale=["en"], symlinks=True, no_wrap=True, verbosity=0,
                 ignore_patterns=sorted(NOT_SCANNED))
    extracted = {key(e) for e in read_po(scratch / "en" / "LC_MESSAGES" / "django.po") if e["msgid"]}
    assert len(extracted) > 1000
    missing = extracted - {key(e) for e in catalogue}
    assert sorted(missing, key=str) == [], "new strings: run makemessages (see django.po header) and translate them"


# ---- pages in English -----------------------------------------------------------------------------

class VisibleChrome(HTMLParser):
    """Text of the nav, title, headings and buttons of a page (incl. submit values, aria-labels)."""

    WATCHED = {"nav", "title", "h1", "h2", "h3", "h4", "button", "summary", "legend"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.WATCHED:
            self.depth += 1
        if tag in self.WATCHED or self.depth:
            self.texts.append(a.get("aria-label") or "")
        if tag == "input" and a.get("type") in ("submit", "button"):
            self.texts.append(a.get("value") or "")
        if tag == "a" and "button" in (a.get("class") or "").split():
            self.texts.append(a.get("aria-label") or "")
            self.depth += 1
            self._button_link = True

    def handle_endtag(self, tag):
        if tag in self.WATCHED or (tag == "a" and getattr(self, "_button_link", False)):
            self.depth = max(0, self.depth - 1)
            if tag == "a":
                self._button_link = False

    def handle_data(self, data):
        if self.depth:
            self.texts.append(data)


def chinese_in_chrome(html: str) -> list[str]:
    p = VisibleChrome()
    p.feed(html)
    return [t.strip() for t in p.texts if HAN.search(t)]


@pytest.fixture
def english_world(db):
    """Regions, people and accounts with ASCII names, so any Chinese on a page is untranslated UI."""
    city = f.region(Level.CITY, code="EN0001", name="Springfield", boundary=f.square(116.9, 36.6, 0.2))
    district = f.region(Level.DISTRICT, city, code="EN0002", name="Riverside", boundary=f.square(117.0, 36.65, 0.04))
    street = f.region(Level.STREET, district, code="EN0003", name="Harbour Street", boundary=f.square(117.0, 36.65, 0.02))
    community = f.region(Level.COMMUNITY, street, code="EN0004", name="Maple", boundary=f.square(117.0, 36.65, 0.01))
    grid = f.region(Level.GRID, community, code="EN0005", name="Maple-1", boundary=f.square(117.0, 36.65, 0.01))
    staff = f.account("en_staff", perms=sorted(org_perms.ALL_PERMS | set(org_perms.PERM_LABELS)), scope=city)
    est = f.estate(community, name="Maple Gardens", address="1 Maple Road")
    home = f.house(grid, est=est, number="101")
    me = f.person(grid, name="Alex Lee")
    f.residency(me, home)
    resident = f.account("en_resident", kind=AccountKind.RESIDENT, person=me)
    return staff, resident


def english_client(account) -> Client:
    c = Client()
    c.force_login(account)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return c


CONSOLE_PAGES = ["console:home", "console:cases_home", "console:iot_alarms", "console:patrols_home",
                 "console:hotline_home", "console:access_home", "console:parking_home", "console:sharing_home"]


@pytest.mark.parametrize("name", CONSOLE_PAGES)
def test_U1_console_pages_in_english_show_no_chinese_chrome(english_world, name):
    staff, _ = english_world
    r = english_client(staff).get(reverse(name), follow=True)
    assert r.status_code == 200 and r["Content-Language"] == "en"
    assert chinese_in_chrome(r.content.decode()) == []


def test_U1_portal_home_in_english_shows_no_chinese_chrome(english_world):
    _, resident = english_world
    r = english_client(resident).get(reverse("portal:home"))
    assert r.status_code == 200 and r["Content-Language"] == "en"
    assert chinese_in_chrome(r.content.decode()) == []


def test_U1_console_home_stays_chinese_without_the_cookie(english_world):
    staff, _ = english_world
    c = Client()
    c.force_login(staff)
    r = c.get(reverse("console:home"))
    assert r["Content-Language"] == "zh-hans" and chinese_in_chrome(r.content.decode())
