from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.domain.authentication.models import CompanyUser, InvitationStatus, Role, UserInvitation
from hub.domain.authentication.services import (
    InvitationError,
    invitation_accept,
    invitation_create,
    invitations_expire,
)
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


def _overdue(invitation: UserInvitation) -> UserInvitation:
    UserInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    invitation.refresh_from_db()
    return invitation


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


def test_accepting_makes_a_membership_with_the_invitations_role(acme, alice, invitee, invitation):
    membership = invitation_accept(token=invitation.invitation_token, user=invitee)

    membership.refresh_from_db()
    invitation.refresh_from_db()
    assert (membership.company, membership.user, membership.role) == (
        acme,
        invitee,
        Role.SUPPORT_STAFF,
    )
    assert membership.invited_by == alice
    assert (membership.can_manage_customers, membership.can_manage_deals) == (True, False)
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.accepted_at is not None


def test_the_address_may_differ_in_case(acme, alice):
    user = factories.UserFactory(email="casey@example.com")
    invitation = invitation_create(
        company=acme, email="Casey@Example.com", role=Role.MANAGER, invited_by=alice
    )

    assert invitation_accept(token=invitation.invitation_token, user=user).role == Role.MANAGER


def test_an_invitation_cannot_be_accepted_twice(invitee, invitation):
    invitation_accept(token=invitation.invitation_token, user=invitee)

    with pytest.raises(InvitationError, match="accepted"):
        invitation_accept(token=invitation.invitation_token, user=invitee)

    assert CompanyUser.objects.filter(user=invitee).count() == 1


def test_an_expired_invitation_is_refused_and_marked_expired(invitee, invitation):
    _overdue(invitation)

    with pytest.raises(InvitationError, match="expired"):
        invitation_accept(token=invitation.invitation_token, user=invitee)

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED
    assert invitation.accepted_at is None
    assert not CompanyUser.objects.filter(user=invitee).exists()


def test_an_expired_invitation_stays_refused(invitee, invitation):
    _overdue(invitation)
    with pytest.raises(InvitationError):
        invitation_accept(token=invitation.invitation_token, user=invitee)

    with pytest.raises(InvitationError, match="expired"):
        invitation_accept(token=invitation.invitation_token, user=invitee)


def test_someone_else_cannot_accept_it(acme, charlie, invitation):
    with pytest.raises(InvitationError, match="another e-mail address"):
        invitation_accept(token=invitation.invitation_token, user=charlie)

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert not CompanyUser.objects.filter(company=acme, user=charlie).exists()


def test_an_unknown_token_is_refused(invitee, invitation):
    with pytest.raises(InvitationError, match="does not exist"):
        invitation_accept(token=str(uuid.uuid4()), user=invitee)


def test_a_member_accepting_again_changes_nothing(acme, alice, bob):
    invitation = invitation_create(company=acme, email=bob.email, role=Role.CEO, invited_by=alice)

    with pytest.raises(ValidationError):
        invitation_accept(token=invitation.invitation_token, user=bob)

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert CompanyUser.objects.get(company=acme, user=bob).role == Role.SALES_MANAGER


def test_invitations_expire_marks_only_overdue_pending_ones(acme, alice, invitee):
    def invite(email: str) -> UserInvitation:
        return invitation_create(company=acme, email=email, role=Role.MANAGER, invited_by=alice)

    overdue = [_overdue(invite("late1@example.com")), _overdue(invite("late2@example.com"))]
    current = invite("current@example.com")
    accepted = invite(invitee.email)
    invitation_accept(token=accepted.invitation_token, user=invitee)
    _overdue(accepted)

    assert invitations_expire() == 2

    statuses = dict(UserInvitation.objects.values_list("email", "status"))
    assert statuses == {
        overdue[0].email: InvitationStatus.EXPIRED,
        overdue[1].email: InvitationStatus.EXPIRED,
        current.email: InvitationStatus.PENDING,
        invitee.email: InvitationStatus.ACCEPTED,
    }
    assert invitations_expire() == 0


def test_invitations_expire_at_a_given_time(invitation):
    assert invitations_expire(now=invitation.expires_at - timedelta(seconds=1)) == 0
    assert invitations_expire(now=invitation.expires_at + timedelta(seconds=1)) == 1

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED
