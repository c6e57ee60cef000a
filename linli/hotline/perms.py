"""Named permissions of the service hotline (L1). Agents work with ``case.intake`` (cases app);
supervisors read the call records of their area with ``hotline.view``."""

from __future__ import annotations

from enum import StrEnum

from linli.orgs.perms import register_perms


class HotlinePerm(StrEnum):
    VIEW = "hotline.view"  # call records in scope (supervisors, quality review)
    CTI = "hotline.cti"  # a telephony (CTI) service account reports incoming calls for the agents it routes to


register_perms({HotlinePerm.VIEW: "查看热线来电记录", HotlinePerm.CTI: "话务系统接入（代坐席登记来电）"})
