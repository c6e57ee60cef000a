"""/api/v1/auth — obtain and manage API tokens, who am I (O2)."""

from __future__ import annotations

from ninja import Router

from linli.core.errors import Invalid
from linli.core.i18n import Msg
from linli.core.middleware import client_ip
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page

from . import selectors, services
from .schemas import MeOut, TokenCreateIn, TokenIssuedOut, TokenLoginIn, TokenOut

router = Router()


def _issued(tok, raw: str) -> dict:
    return {"id": tok.pk, "token": raw, "name": tok.name, "expires_at": tok.expires_at}


@router.post("/token", auth=None, response={200: TokenIssuedOut, **ERRORS}, summary="用户名密码换取令牌")
def token_obtain(request, payload: TokenLoginIn):
    account = services.login(request_ip=client_ip(request), username=payload.username, password=payload.password)
    tok, raw = services.token_create(
        actor=account, name=payload.name, expires_at=services.token_default_expiry()
    )
    return _issued(tok, raw)


@router.get("/me", response={200: MeOut, **ERRORS}, summary="当前账号及权限范围")
def me(request):
    acc = request.auth
    return {
        "id": acc.pk, "username": acc.username, "display_name": acc.display_name, "kind": acc.kind,
        "is_superuser": acc.is_superuser, "organisation_id": acc.organisation_id, "person_id": acc.person_id,
        "preferred_language": acc.preferred_language, "permissions": selectors.my_permissions(acc),
    }


@router.post("/logout-token", response={200: TokenOut, **ERRORS}, summary="吊销当前令牌")
def logout_token(request):
    tok = getattr(request, "api_token", None)
    if tok is None:
        raise Invalid("auth.not_token", Msg("当前请求未使用令牌认证", "This request was not authenticated with a token"))
    services.logout(actor=request.auth, token=tok)
    tok.refresh_from_db()
    return tok


@router.get("/tokens", response={200: Page[TokenOut], **ERRORS}, summary="我的令牌")
def tokens_list(request, cursor: str | None = None, limit: int = 50):
    rows, nxt = paginate(selectors.tokens_for(actor=request.auth), cursor=cursor, limit=limit)
    return {"items": rows, "next_cursor": nxt}


@router.post("/tokens", response={200: TokenIssuedOut, **ERRORS}, summary="新建令牌（原始值只显示一次）")
def tokens_create(request, payload: TokenCreateIn):
    tok, raw = services.token_create(actor=request.auth, name=payload.name, expires_at=payload.expires_at)
    return _issued(tok, raw)


@router.delete("/tokens/{token_id}", response={200: TokenOut, **ERRORS}, summary="吊销令牌")
def tokens_revoke(request, token_id: int):
    tok = selectors.token_get(actor=request.auth, token_id=token_id)
    return services.token_revoke(actor=request.auth, token=tok)
