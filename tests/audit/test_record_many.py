"""A1 audit chain: entries written in bulk (one ingest batch's alarms) chain exactly like single ones."""

from __future__ import annotations

import pytest

from linli.audit.models import AuditEntry
from linli.audit.selectors import verify_chain
from linli.audit.services import record, record_many

pytestmark = pytest.mark.django_db


def test_A1_record_many_continues_the_hash_chain(tree):
    record(actor=None, action="test.one", object_type="x", object_id=1)
    entries = record_many([{"actor": None, "action": "test.many", "object_type": "x", "object_id": i, "after": {"n": i},
                            "region_path": tree.grid_a.path} for i in range(5)])
    record(actor=None, action="test.after", object_type="x", object_id=9)
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(seqs[0], seqs[0] + 7))
    assert [e.action for e in entries] == ["test.many"] * 5 and entries[0].prev_hash == AuditEntry.objects.get(seq=seqs[0]).hash
    report = verify_chain()
    assert report.ok, report
    assert record_many([]) == []
