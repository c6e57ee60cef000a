"""The suite's transactional tests flush tables; the audit trigger must survive that."""

import pytest
from django.db import DatabaseError, transaction

from linli.audit import services
from linli.audit.models import AuditEntry


@pytest.mark.django_db(transaction=True)
def test_O3_transactional_test_can_write_audit_entries():
    services.record(actor=None, action="test.flush", object_type="x", object_id=1)
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db
def test_O3_trigger_still_refuses_delete_after_a_flush():
    services.record(actor=None, action="test.after_flush", object_type="x", object_id=2)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(action="test.after_flush")._raw_delete(AuditEntry.objects.db)
