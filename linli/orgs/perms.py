"""Named permissions (O2). Roles are data: a Role holds a list of these names."""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    # places
    PLACE_VIEW = "place.view"
    PLACE_EDIT = "place.edit"
    BOUNDARY_EDIT = "place.boundary_edit"
    # people
    PERSON_VIEW = "person.view"
    PERSON_EDIT = "person.edit"
    PERSON_REVEAL = "person.reveal"  # see unmasked ID number / phone (audited)
    SPECIAL_GROUP_VIEW = "person.special_group_view"
    SPECIAL_GROUP_EDIT = "person.special_group_edit"
    HOUSEHOLD_EDIT = "person.household_edit"
    DATA_IMPORT = "data.import"
    DATA_EXPORT = "data.export"
    # organisations and accounts
    ORG_VIEW = "org.view"
    ORG_EDIT = "org.edit"
    ACCOUNT_VIEW = "account.view"
    ACCOUNT_EDIT = "account.edit"
    ROLE_ASSIGN = "role.assign"
    # audit
    AUDIT_VIEW = "audit.view"


PERM_LABELS: dict[str, str] = {
    Perm.PLACE_VIEW: "查看区域与房屋",
    Perm.PLACE_EDIT: "编辑区域与房屋",
    Perm.BOUNDARY_EDIT: "编辑边界",
    Perm.PERSON_VIEW: "查看人员",
    Perm.PERSON_EDIT: "编辑人员",
    Perm.PERSON_REVEAL: "查看完整证件号与电话(留痕)",
    Perm.SPECIAL_GROUP_VIEW: "查看特殊人群",
    Perm.SPECIAL_GROUP_EDIT: "编辑特殊人群",
    Perm.HOUSEHOLD_EDIT: "编辑住户关系",
    Perm.DATA_IMPORT: "批量导入",
    Perm.DATA_EXPORT: "导出数据",
    Perm.ORG_VIEW: "查看组织",
    Perm.ORG_EDIT: "编辑组织",
    Perm.ACCOUNT_VIEW: "查看账号",
    Perm.ACCOUNT_EDIT: "管理账号",
    Perm.ROLE_ASSIGN: "分配角色",
    Perm.AUDIT_VIEW: "查看审计日志",
}

ALL_PERMS: frozenset[str] = frozenset(p.value for p in Perm)


def register_perms(labels: dict[str, str]) -> None:
    """Later domains (cases, iot, access…) add their permission names here at import time."""
    global ALL_PERMS
    PERM_LABELS.update(labels)
    ALL_PERMS = frozenset(set(ALL_PERMS) | set(labels))


def is_known(name: str) -> bool:
    return name in ALL_PERMS or name in PERM_LABELS


# ---- checks (O2) ---------------------------------------------------------------------------------
# Writes check scope explicitly: no grant of ``perm`` anywhere ⇒ 403; a target region outside the
# subtrees where the actor holds ``perm`` ⇒ 404 (the actor must not learn that it exists).


def covers(actor, perm: str, path: str) -> bool:
    """True when ``actor`` holds ``perm`` over the region with materialised path ``path``."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        return False
    paths = actor.scope_paths(perm)
    return paths is None or any(path.startswith(p) for p in paths)


def scope_paths_any(actor, perms) -> list[str] | None:
    """Region paths where ``actor`` holds at least one of ``perms``; None = everywhere (superuser)."""
    out: list[str] = []
    for perm in perms:
        paths = actor.scope_paths(perm)
        if paths is None:
            return None
        out.extend(paths)
    return out


def check_perm_anywhere(actor, perm: str) -> None:
    from linli.core.errors import Forbidden
    from linli.core.i18n import Msg

    if not covers_any(actor, perm):
        raise Forbidden(
            "permission.denied",
            Msg("没有执行此操作的权限（{perm}）", "You do not have permission for this action ({perm})"),
            perm=str(perm),
            detail={"permission": str(perm)},
        )


def covers_any(actor, perm: str) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        return False
    paths = actor.scope_paths(perm)
    return paths is None or bool(paths)


def check_perm_at(actor, perm: str, path: str, *, code: str = "not_found", message=None) -> None:
    """403 without ``perm`` anywhere; 404 when ``path`` is outside the actor's ``perm`` scope."""
    from linli.core.errors import NotFound

    check_perm_anywhere(actor, perm)
    if not covers(actor, perm, path):
        raise NotFound(code, message)
