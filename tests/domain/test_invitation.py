from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.domain.authentication.models import InvitationStatus, Role, UserInvitation
from hub.domain.authentication.services import invitation_create
from tests import factories

TOLERANCE = timedelta(seconds=5)


@pytest.fixture
def invitee(db):
    return factories.UserFactory(email="newhire@example.com")


@pytest.fixture
def invitation(acme, alice, invitee):
    return invitation_create(
        company=acme, email=invitee.email, role=Role.SUPPORT_STAFF, invited_by=alice
    )


def test_the_token_is_a_uuid(invitation):
    assert str(uuid.UUID(invitation.invitation_token)) == invitation.invitation_token


def test_each_invitation_gets_its_own_token(acme, alice):
    tokens = {
        invitation_create(
            company=acme, email=f"person{i}@example.com", role=Role.MANAGER, invited_by=alice
        ).invitation_token
        for i in range(5)
    }
    assert len(tokens) == 5


def test_it_expires_seven_days_after_creation(invitation):
    before = timezone.now()
    invitation.refresh_from_db()

    assert invitation.status == InvitationStatus.PENDING
    assert abs(invitation.expires_at - (invitation.created_at + timedelta(days=7))) < TOLERANCE
    assert abs(invitation.expires_at - (before + timedelta(days=7))) < TOLERANCE


def test_the_address_is_stored_in_lower_case(acme, alice):
    invitation = invitation_create(
        company=acme, email=" NewHire@Example.com ", role=Role.MANAGER, invited_by=alice
    )

    assert invitation.email == "newhire@example.com"


def test_an_unknown_role_or_bad_address_is_refused(acme, alice):
    with pytest.raises(ValidationError):
        invitation_create(company=acme, email="x@example.com", role="boss", invited_by=alice)
    with pytest.raises(ValidationError):
        invitation_create(company=acme, email="not-an-address", role=Role.MANAGER, invited_by=alice)

    assert not UserInvitation.objects.exists()
