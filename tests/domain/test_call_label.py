"""A call reads with its status's label (the admin's "… was changed successfully" uses it)."""

from hub.domain.calls.models import Call, CallStatus


def test_a_call_reads_with_its_status_label_not_its_stored_value():
    call = Call(
        direction="outbound",
        from_number="+14155550100",
        to_number="+14155550199",
        status=CallStatus.IN_PROGRESS,
    )

    assert str(call) == "outbound +14155550100 → +14155550199 (In progress)"
