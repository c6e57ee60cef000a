"""Named permissions of the iot domain (D1–D6), registered with orgs.perms at app start."""

from __future__ import annotations

from enum import StrEnum

from linli.orgs.perms import register_perms


class IotPerm(StrEnum):
    DEVICE_VIEW = "device.view"
    DEVICE_EDIT = "device.edit"
    ALARM_VIEW = "alarm.view"
    ALARM_ACK = "alarm.ack"
    RULE_EDIT = "rule.edit"
    COMMAND_SEND = "command.send"
    BIN_COLLECT = "bin.collect"


LABELS = {
    IotPerm.DEVICE_VIEW: "查看设备与读数",
    IotPerm.DEVICE_EDIT: "登记与管理设备",
    IotPerm.ALARM_VIEW: "查看告警(接收告警通知)",
    IotPerm.ALARM_ACK: "确认与清除告警",
    IotPerm.RULE_EDIT: "编辑告警规则",
    IotPerm.COMMAND_SEND: "向设备下发指令",
    IotPerm.BIN_COLLECT: "登记垃圾清运、维护清运路线",
}


def register() -> None:
    register_perms({str(k): v for k, v in LABELS.items()})
