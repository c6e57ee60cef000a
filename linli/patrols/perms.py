"""Named permissions of grid patrols (C6), registered with the orgs permission table."""

from __future__ import annotations

from enum import StrEnum

from linli.orgs.perms import register_perms


class PatrolPerm(StrEnum):
    VIEW = "patrol.view"  # see routes, tasks and check-ins in scope; the "who patrolled where" map
    PERFORM = "patrol.perform"  # grid worker: start, check in, report findings and finish one's own tasks
    MANAGE = "patrol.manage"  # routes and checkpoints, planning and assigning tasks


PATROL_PERM_LABELS: dict[str, str] = {
    PatrolPerm.VIEW: "查看巡查路线、任务与打卡记录",
    PatrolPerm.PERFORM: "执行巡查任务（打卡、上报问题）",
    PatrolPerm.MANAGE: "管理巡查路线与排班",
}

register_perms({str(k): v for k, v in PATROL_PERM_LABELS.items()})
