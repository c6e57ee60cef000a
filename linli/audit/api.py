"""/api/v1/audit — browse the audit trail within one's scope; verify the hash chain (O3)."""

from __future__ import annotations

from dataclasses import asdict

from ninja import Query, Router

from linli.core.errors import Forbidden
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page

from . import selectors
from .schemas import AuditEntryOut, AuditFilter, ChainReportOut

router = Router()


@router.get("/entries", response={200: Page[AuditEntryOut], **ERRORS}, summary="审计记录（按管辖范围）")
def entries_list(request, filters: Query[AuditFilter], cursor: str | None = None, limit: int = 50):
    qs = selectors.audit_entries(actor=request.auth, **filters.dict())
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, order="-seq")
    return {"items": rows, "next_cursor": nxt}


@router.get("/verify", response={200: ChainReportOut, **ERRORS}, summary="校验审计哈希链")
def verify(request):
    from linli.orgs.perms import Perm
    from linli.orgs.selectors import holds_at_root

    if not holds_at_root(request.auth, Perm.AUDIT_VIEW):
        raise Forbidden(
            "audit.verify_forbidden",
            Msg("只有全域审计权限可以校验审计链", "Only auditors over the whole tree may verify the chain"),
        )
    return asdict(selectors.verify_chain())
