"""Named permissions of the knowledge base (L2), registered with the orgs permission table."""

from __future__ import annotations

from enum import StrEnum

from linli.orgs.perms import register_perms


class KbPerm(StrEnum):
    VIEW = "knowledge.view"  # console: search and read every published article, see drafts in scope
    EDIT = "knowledge.edit"  # create, edit, publish, archive articles in scope (city-wide: city scope)


register_perms({KbPerm.VIEW: "查看知识库", KbPerm.EDIT: "编辑与发布知识库文章"})
