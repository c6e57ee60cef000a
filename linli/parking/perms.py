"""Named permissions of parking (K1–K5), registered with the orgs permission table."""

from __future__ import annotations

from enum import StrEnum

from linli.orgs.perms import register_perms


class ParkingPerm(StrEnum):
    VIEW = "parking.view"  # lots, zones, spaces, vehicles, passes, sessions, statistics in scope
    MANAGE = "parking.manage"  # lots, zones, spaces, billing rules, vehicles, passes
    OPERATE = "parking.operate"  # booth: record payments, close sessions by hand
    FLAG = "parking.flag"  # stolen/blocked/watch plates and their alarms


PARKING_PERM_LABELS: dict[str, str] = {
    ParkingPerm.VIEW: "查看停车",
    ParkingPerm.MANAGE: "管理停车场(车位/收费规则/月卡)",
    ParkingPerm.OPERATE: "岗亭收费",
    ParkingPerm.FLAG: "管理布控车牌与告警",
}


def register() -> None:
    register_perms(PARKING_PERM_LABELS)
