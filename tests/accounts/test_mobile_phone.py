"""A member gives the mobile the closed loop texts, on their profile; an administrator can too."""

from __future__ import annotations

import pytest
from django.test import Client

from avis.accounts.models import Membership, Role
from avis.accounts.services import add_member
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def _membership(org, email: str) -> Membership:  # noqa: ANN001
    return Membership.objects.get(organisation=org.organisation, user__username=email)


def test_a_manager_saves_a_national_mobile_as_e164_on_their_profile(org) -> None:
    manager = _signed_in(org.manager_email)
    reply = manager.post(
        "/profile/", {"mobile_phone": "06 12 34 56 78", "sms_when_escalated": "on"}, follow=True
    )
    assert reply.status_code == 200
    membership = _membership(org, org.manager_email)
    assert membership.mobile_phone == "+33612345678"
    assert (membership.sms_when_assigned, membership.sms_when_escalated) == (False, True)
    assert 'value="+33612345678"' in reply.content.decode()


def test_an_invalid_number_is_refused_with_an_error_on_the_field(org) -> None:
    manager = _signed_in(org.manager_email)
    reply = manager.post("/profile/", {"mobile_phone": "06 12", "sms_when_assigned": "on"})
    page = reply.content.decode()
    assert reply.status_code == 200
    assert 'id="mobile-phone-error"' in page
    assert 'aria-invalid="true"' in page
    assert 'value="06 12"' in page  # what was typed stays, to be corrected
    assert _membership(org, org.manager_email).mobile_phone == ""


def test_a_landline_is_refused_because_it_cannot_receive_texts(org) -> None:
    manager = _signed_in(org.manager_email)
    page = manager.post("/profile/", {"mobile_phone": "01 42 68 53 00"}).content.decode()
    assert 'id="mobile-phone-error"' in page
    assert _membership(org, org.manager_email).mobile_phone == ""


def test_a_new_member_is_texted_about_assignments_and_escalations_by_default(org) -> None:
    membership = _membership(org, org.manager_email)
    assert (membership.mobile_phone, membership.sms_when_assigned, membership.sms_when_escalated) == (
        "",
        True,
        True,
    )


def test_an_admin_sets_a_members_mobile_from_the_people_page(org) -> None:
    admin = _signed_in(org.admin_email)
    membership = _membership(org, org.manager_email)
    assert org.manager_email in admin.get("/settings/people/").content.decode()
    reply = admin.post(
        f"/settings/people/{membership.id}/",
        {"mobile_phone": "+33 6 98 76 54 32", "sms_when_assigned": "on", "sms_when_escalated": "on"},
        follow=True,
    )
    assert reply.status_code == 200
    membership.refresh_from_db()
    assert membership.mobile_phone == "+33698765432"
    assert "+33698765432" in admin.get("/settings/people/").content.decode()


def test_a_manager_cannot_edit_other_peoples_numbers(org) -> None:
    manager = _signed_in(org.manager_email)
    admin_membership = _membership(org, org.admin_email)
    assert manager.get("/settings/people/").status_code == 403
    assert (
        manager.post(f"/settings/people/{admin_membership.id}/", {"mobile_phone": "0612345678"}).status_code
        == 403
    )


def test_another_tenants_admin_can_neither_read_nor_change_a_number(org, other_org) -> None:
    membership = _membership(org, org.manager_email)
    Membership.objects.filter(id=membership.id).update(mobile_phone="+33612345678")
    other_admin = _signed_in(other_org.admin_email)
    assert other_admin.get(f"/settings/people/{membership.id}/").status_code == 404
    assert (
        other_admin.post(f"/settings/people/{membership.id}/", {"mobile_phone": "0699999999"}).status_code
        == 404
    )
    assert "+33612345678" not in other_admin.get("/settings/people/").content.decode()
    membership.refresh_from_db()
    assert membership.mobile_phone == "+33612345678"


def test_a_person_in_two_organisations_keeps_a_number_per_organisation(org, other_org) -> None:
    add_member(organisation=other_org.organisation, email=org.manager_email, role=Role.MANAGER)
    manager = _signed_in(org.manager_email)
    manager.post("/profile/", {"mobile_phone": "06 12 34 56 78", "sms_when_assigned": "on"})
    in_a = _membership(org, org.manager_email)
    in_b = Membership.objects.get(organisation=other_org.organisation, user=in_a.user)
    assert (in_a.mobile_phone, in_b.mobile_phone) == ("+33612345678", "")
