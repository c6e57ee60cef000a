from linli.orgs.perms import Perm
from linli.places.models import Region
from tests import factories as f


def test_O2_for_actor_limits_to_subtree(tree):
    worker = f.account(perms=[Perm.PLACE_VIEW], scope=tree.community_a)
    visible = set(Region.objects.for_actor(worker, Perm.PLACE_VIEW).values_list("code", flat=True))
    assert visible == {tree.community_a.code, tree.grid_a.code}


def test_O2_no_perm_sees_nothing_and_superuser_sees_all(tree):
    worker = f.account(perms=[Perm.PERSON_VIEW], scope=tree.community_a)
    assert not Region.objects.for_actor(worker, Perm.PLACE_VIEW).exists()
    admin = f.account(superuser=True)
    assert Region.objects.for_actor(admin, Perm.PLACE_VIEW).count() == 7


def test_O2_street_officer_sees_both_communities(tree):
    officer = f.account(perms=[Perm.PLACE_VIEW], scope=tree.street)
    assert Region.objects.for_actor(officer, Perm.PLACE_VIEW).count() == 5


def test_O3_audit_chain_verifies_and_detects_tampering(db):
    from django.db import connection

    from linli.audit import services
    from linli.audit.selectors import verify_chain

    for i in range(5):
        services.record(actor=None, action="test.write", object_type="x", object_id=i, after={"i": i, "phone": "138"})
    assert verify_chain().ok
    with connection.cursor() as cur:
        # Simulate an attacker with raw DB access: drop the trigger, alter a row.
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_no_update")
        else:
            cur.execute("DROP TRIGGER audit_no_update")
        cur.execute("UPDATE audit_auditentry SET after = %s WHERE seq = 3", ['{"i": 99}'])
    report = verify_chain()
    assert not report.ok and report.first_broken_seq == 3


def test_O3_audit_rows_refuse_update_and_delete_in_database(db):
    import pytest
    from django.db import DatabaseError, transaction

    from linli.audit import services
    from linli.audit.models import AuditEntry

    services.record(actor=None, action="test.write", object_type="x", object_id=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=1).update(action="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=1)._raw_delete(AuditEntry.objects.db)
    assert services.redact({"phone": "138", "x": 1}) == {"phone": "***", "x": 1}
