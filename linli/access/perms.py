"""Named permissions of access control (A1–A5), registered with the orgs permission table."""

from __future__ import annotations

from enum import StrEnum

from linli.orgs.perms import register_perms


class AccessPerm(StrEnum):
    VIEW = "access.view"  # gates, groups, rules, credentials (masked), visitors in scope
    MANAGE = "access.manage"  # gates, groups, rules, holidays, blocks; suspend/revoke credentials
    CREDENTIAL_ISSUE = "access.credential_issue"  # issue cards, PINs, biometric references
    LOG_VIEW = "access.log_view"  # access log, statistics, last seen
    VISITOR_DESK = "access.visitor_desk"  # register visitors at the gate
    WATCH_LIST = "access.watch_list"  # see and edit the watch list, see its alarms


ACCESS_PERM_LABELS: dict[str, str] = {
    AccessPerm.VIEW: "查看门禁",
    AccessPerm.MANAGE: "管理门禁(门禁点/规则/禁行)",
    AccessPerm.CREDENTIAL_ISSUE: "发放门禁凭证",
    AccessPerm.LOG_VIEW: "查看通行记录",
    AccessPerm.VISITOR_DESK: "访客登记",
    AccessPerm.WATCH_LIST: "管理黑名单与告警",
}


def register() -> None:
    register_perms(ACCESS_PERM_LABELS)
