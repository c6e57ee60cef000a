"""Named permissions of the case loop (C1–C4, L1–L3), registered with the orgs permission table."""

from __future__ import annotations

from enum import StrEnum

from linli.orgs.perms import register_perms


class CasePerm(StrEnum):
    VIEW = "case.view"  # see cases in scope, their timeline, comment
    INTAKE = "case.intake"  # file a case for someone else (hotline, patrol, kiosk, IoT)
    ACCEPT = "case.accept"  # accept / return to intake / merge duplicates (community, grid)
    DISPATCH = "case.dispatch"  # dispatch, reassign, add co-handling organisations
    HANDLE = "case.handle"  # start, resolve, transfer, return (department, property company)
    VERIFY = "case.verify"  # verify a resolution on site or send it back
    CLOSE = "case.close"  # close, record a follow-up rating, reopen on a resident's behalf
    SUPERVISE = "case.supervise"  # 督办: receive escalations, escalate by hand
    CONFIG = "case.config"  # categories, routing table, calendar


CASE_PERM_LABELS: dict[str, str] = {
    CasePerm.VIEW: "查看事件工单",
    CasePerm.INTAKE: "代为登记事件（热线/巡查/设备）",
    CasePerm.ACCEPT: "受理事件",
    CasePerm.DISPATCH: "派单/改派/协办",
    CasePerm.HANDLE: "处置事件（办理/转办/退回）",
    CasePerm.VERIFY: "核查办结结果",
    CasePerm.CLOSE: "结案与回访",
    CasePerm.SUPERVISE: "督办与超时升级",
    CasePerm.CONFIG: "配置事件分类与派单规则",
}

register_perms(CASE_PERM_LABELS)
