"""O2 authentication: password login with throttling, API tokens, /me, logout, admin login."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.core.errors import Throttled
from linli.orgs import services
from linli.orgs.models import ApiToken, LoginAttempt
from linli.orgs.perms import Perm
from tests import factories as f

WRONG = "definitely-wrong"


def obtain(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        "/api/v1/auth/token", {"username": username, "password": password, "name": "cli"},
        content_type="application/json", REMOTE_ADDR=ip,
    )


@pytest.fixture
def user(tree):
    return f.account("wang", perms=[Perm.PLACE_VIEW, Perm.PERSON_VIEW], scope=tree.community_a)


def test_O2_token_obtain_and_use(user):
    c = Client()
    r = obtain(c, "wang", f.PASSWORD)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["token"].startswith("lk_") and body["expires_at"]
    me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    data = me.json()
    assert data["username"] == "wang"
    assert [r["name"] for r in data["permissions"][Perm.PLACE_VIEW]] == ["甲社区"]
    # stored hashed, never raw
    assert not ApiToken.objects.filter(key_hash=body["token"]).exists()
    actions = list(AuditEntry.objects.filter(actor_id=user.pk).values_list("action", flat=True))
    assert "auth.login" in actions and "token.create" in actions


def test_O2_wrong_password_is_401_with_error_shape_and_audited(user):
    r = obtain(Client(), "wang", WRONG)
    assert r.status_code == 401
    assert r.json()["code"] == "auth.invalid_credentials" and r.json()["message"]
    entry = AuditEntry.objects.filter(action="auth.login_failed").get()
    assert entry.kind == "auth" and entry.object_id == str(user.pk)
    assert WRONG not in str(entry.detail) and f.PASSWORD not in str(entry.detail)
    assert LoginAttempt.objects.filter(username="wang", succeeded=False).count() == 1


def test_O2_login_throttled_after_max_failures_until_window_passes(user, settings):
    settings.LINLI_LOGIN_MAX_FAILURES = 5
    settings.LINLI_LOGIN_WINDOW_SECONDS = 900
    c = Client()
    with time_machine.travel(dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC), tick=False) as traveller:
        for _ in range(5):
            assert obtain(c, "wang", WRONG).status_code == 401
        r = obtain(c, "wang", f.PASSWORD)  # 6th attempt: right password, still locked
        assert r.status_code == 429
        body = r.json()
        assert body["code"] == "auth.throttled" and body["detail"]["retry_after"] == 900
        traveller.shift(dt.timedelta(seconds=600))
        assert obtain(c, "wang", f.PASSWORD).json()["detail"]["retry_after"] == 300
        traveller.shift(dt.timedelta(seconds=301))
        assert obtain(c, "wang", f.PASSWORD).status_code == 200


def test_O2_throttle_is_per_username_and_per_ip(tree, settings):
    settings.LINLI_LOGIN_MAX_FAILURES = 3
    settings.LINLI_LOGIN_MAX_FAILURES_PER_IP = 5
    f.account("li")
    f.account("zhao")
    c = Client()
    for _ in range(3):
        obtain(c, "li", WRONG, ip="10.0.0.7")
    assert obtain(c, "li", f.PASSWORD, ip="10.9.9.9").status_code == 429  # username locked from any IP
    assert obtain(c, "zhao", f.PASSWORD, ip="10.0.0.7").status_code == 200  # other users from that IP ok
    for _ in range(2):
        obtain(c, f"nobody{_}", WRONG, ip="10.0.0.7")  # 5 failures from this IP now
    assert obtain(c, "zhao", f.PASSWORD, ip="10.0.0.7").status_code == 429
    assert obtain(c, "zhao", f.PASSWORD, ip="10.0.0.8").status_code == 200


def test_O2_success_resets_username_failures(user, settings):
    settings.LINLI_LOGIN_MAX_FAILURES = 3
    for _ in range(2):
        with pytest.raises(services.AuthFailed):
            services.login(request_ip="1.1.1.1", username="wang", password=WRONG)
    services.login(request_ip="1.1.1.1", username="wang", password=f.PASSWORD)
    for _ in range(2):
        with pytest.raises(services.AuthFailed):
            services.login(request_ip="1.1.1.1", username="wang", password=WRONG)
    assert services.login(request_ip="1.1.1.1", username="wang", password=f.PASSWORD).pk == user.pk
    for _ in range(3):
        with pytest.raises(services.AuthFailed):
            services.login(request_ip="1.1.1.1", username="wang", password=WRONG)
    with pytest.raises(Throttled):
        services.login(request_ip="1.1.1.1", username="wang", password=f.PASSWORD)


def test_O2_inactive_account_cannot_log_in(user):
    user.is_active = False
    user.save()
    r = obtain(Client(), "wang", f.PASSWORD)
    assert r.status_code == 401 and r.json()["code"] == "auth.invalid_credentials"


def _me(raw: str):
    return Client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"})


def _assert_401(resp):
    assert resp.status_code == 401
    assert set(resp.json()) == {"code", "message", "detail"} and resp.json()["code"] == "auth.required"


def test_O2_token_auth_valid_expired_revoked_inactive(user):
    tok, raw = services.token_create(actor=user, name="t", expires_at=timezone.now() + dt.timedelta(hours=1))
    assert _me(raw).status_code == 200
    _assert_401(_me("lk_not-a-token"))
    _assert_401(Client().get("/api/v1/auth/me"))
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        _assert_401(_me(raw))
    services.token_revoke(actor=user, token=tok)
    _assert_401(_me(raw))
    _, raw2 = services.token_create(actor=user, name="t2")
    assert _me(raw2).status_code == 200
    user.is_active = False
    user.save()
    _assert_401(_me(raw2))


def test_O2_deactivate_revokes_tokens(tree, user):
    admin = f.account(superuser=True)
    _, raw = services.token_create(actor=user, name="t")
    services.account_deactivate(actor=admin, account=user)
    _assert_401(_me(raw))
    assert not ApiToken.objects.filter(account=user, revoked_at__isnull=True).exists()


def test_O2_logout_token_revokes_current_token(user, api_as):
    api = api_as(user)
    r = api.post("auth/logout-token")
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert api.get("auth/me").status_code == 401
    assert AuditEntry.objects.filter(action="auth.logout", actor_id=user.pk, kind="auth").exists()


def test_O2_manage_own_tokens(user, api_as, django_assert_max_num_queries):
    api = api_as(user)
    r = api.post("auth/tokens", {"name": "脚本"})
    assert r.status_code == 200 and r.json()["token"].startswith("lk_")
    new_id = r.json()["id"]
    assert api.post("auth/tokens", {"name": "old", "expires_at": "2000-01-01T00:00:00Z"}).json()["code"] == "token.expires_past"
    with django_assert_max_num_queries(3):
        listed = api.get("auth/tokens").json()["items"]
    assert {t["name"] for t in listed} == {"test", "脚本"}
    assert "token" not in listed[0] and "key_hash" not in listed[0]
    other = f.account()
    other_tok, _ = services.token_create(actor=other, name="x")
    assert api.delete(f"auth/tokens/{other_tok.pk}").status_code == 404
    r = api.delete(f"auth/tokens/{new_id}")
    assert r.status_code == 200 and r.json()["is_valid"] is False


def test_O2_token_obtain_validates_body(db):
    r = Client().post("/api/v1/auth/token", {"username": ""}, content_type="application/json")
    assert r.status_code == 422 and r.json()["code"] == "request.invalid"


def test_O2_admin_login_respects_is_active(db):
    staff = f.account("boss", superuser=True)
    c = Client()
    assert c.login(username="boss", password=f.PASSWORD)
    assert c.get("/admin/").status_code == 200
    staff.is_active = False
    staff.save()
    assert c.get("/admin/").status_code == 302  # session no longer authenticates
    assert not Client().login(username="boss", password=f.PASSWORD)


def test_O2_passwords_use_django_default_hasher(tree, settings):
    from django.conf import global_settings

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    admin = f.account(superuser=True)
    org = f.organisation(tree.community_a)
    acc = services.account_create(actor=admin, username="newbie", password="Qiang-Mima-2026", kind="staff",
                                  display_name="新人", organisation=org)
    assert acc.password.startswith("pbkdf2_sha256$")
    assert services.login(request_ip="", username="newbie", password="Qiang-Mima-2026").pk == acc.pk
