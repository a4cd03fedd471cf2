"""Inbound texts are routed by the number they were sent to, never by guessing between organisations.

Regression: with one sender number shared by all organisations, a reply went to whichever
organisation texted that customer's number last, and that organisation then texted the customer.
Now an organisation's own sender decides; when two organisations could own a reply to a shared
number, it is parked for review (the installation admin's list), filed under neither, answered by none.
Through the real pieces: the API posts interactions, the simulator sends, receive_sms handles.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from avis.customers.models import Customer, OptOut
from avis.errors import ValidationFailed
from avis.messaging.conversations import file_parked_text, receive_sms
from avis.messaging.models import ChannelSettings, Conversation, InboundMessage, OutboundMessage
from avis.surveys.models import Invitation
from tests.factories import make_organisation
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+33612345678"
SHARED = "+33700000000"
OWN_A, OWN_B = "+33700000001", "+33700000002"


@pytest.fixture
def both(org, other_org, api, settings):  # noqa: ANN001
    """One person, customer of two organisations; each has texted them a survey (A first, then B)."""
    settings.AVIS_SMS_PROVIDER = "simulator"
    settings.AVIS_SMS_SENDER = SHARED

    def survey(own: str = "") -> tuple[Invitation, Invitation]:
        if own:
            ChannelSettings.objects.create(organisation=org.organisation, sms_sender=OWN_A)
            ChannelSettings.objects.create(organisation=other_org.organisation, sms_sender=OWN_B)
        invitations = []
        for setup, client, event in (
            (org, api, "a-1"),
            (other_org, Client(headers={"Authorization": f"Bearer {other_org.api_key}"}), "b-1"),
        ):
            open_all_day(setup.organisation)
            assert post_interaction(client, event, email=None, phone="06 12 34 56 78").status_code == 200
            invitations.append(Invitation.objects.get(organisation=setup.organisation))
        return invitations[0], invitations[1]

    return survey


def reply(text: str, *, to: str) -> InboundMessage:
    inbound = receive_sms(
        provider="simulator", provider_message_id=uuid.uuid4().hex, sender=PHONE, recipient=to, text=text
    )
    return InboundMessage.objects.get(id=inbound.id)


def sent_to_phone() -> int:
    return OutboundMessage.objects.filter(recipient=PHONE, status="sent").count()


def test_a_reply_to_the_shared_number_two_organisations_could_own_is_parked(org, other_org, both) -> None:
    a, b = both()
    before = sent_to_phone()
    inbound = reply("7", to=SHARED)
    assert inbound.interpretation == "parked"
    assert (inbound.organisation_id, inbound.customer_id, inbound.conversation_id) == (None, None, None)
    assert sorted(inbound.parked_among) == sorted([org.organisation.id, other_org.organisation.id])
    assert Conversation.objects.get(invitation=a).answers == {}
    assert Conversation.objects.get(invitation=b).answers == {}
    assert sent_to_phone() == before  # nobody texts the customer back


def test_a_stop_to_the_shared_number_is_honoured_by_both_at_once_and_still_parked(
    org, other_org, both
) -> None:
    """A missed opt-out is a breach: both organisations stop at once, before anyone reviews it.
    Neither sees the customer's words, and nobody texts back."""
    both()
    before = sent_to_phone()
    inbound = reply("arrêtez de m'écrire, merci", to=SHARED)
    assert inbound.interpretation == "parked"
    opt_outs = OptOut.objects.filter(withdrawn_at__isnull=True)
    assert sorted(opt_outs.values_list("organisation_id", flat=True)) == sorted(
        [org.organisation.id, other_org.organisation.id]
    )
    assert all("arrêtez" not in source for source in opt_outs.values_list("source", flat=True))
    assert sent_to_phone() == before
    # A survey decided after the STOP is not sent, by either.
    assert (
        post_interaction(
            Client(headers={"Authorization": f"Bearer {org.api_key}"}),
            "a-2",
            email=None,
            phone="06 12 34 56 78",
        ).json()["decision"]["outcome"]
        != "send"
    )
    # The admin may still file it under one of them: nothing more happens (already opted out).
    assert file_parked_text(inbound_id=inbound.id, organisation_id=other_org.organisation.id) == "opt_out"
    assert OptOut.objects.filter(withdrawn_at__isnull=True).count() == 2


def test_an_admin_files_a_parked_reply_from_the_review_list(org, other_org, both) -> None:
    a, b = both()
    inbound = reply("9 très bien", to=SHARED)
    operator = get_user_model().objects.create_superuser("ops", "ops@avis.example", "pw-ops-123456")
    staff = Client()
    staff.force_login(operator)
    listing = staff.get("/admin/messaging/inboundmessage/").content.decode()
    assert "9 très bien" in listing and org.organisation.name in listing
    page = staff.post(
        f"/admin/messaging/inboundmessage/{inbound.id}/change/", {"owner": str(org.organisation.id)}
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    inbound.refresh_from_db()
    assert (inbound.interpretation, inbound.organisation_id) == ("answer", org.organisation.id)
    assert Conversation.objects.get(invitation=a).answers == {"nps": "9"}
    assert Conversation.objects.get(invitation=b).answers == {}
    assert "9 très bien" not in staff.get("/admin/messaging/inboundmessage/").content.decode()


def test_an_organisation_may_not_be_chosen_unless_it_could_own_the_text(org, other_org, both) -> None:
    both()
    stranger = make_organisation("Mutuelle du Sud", slug="mutuelle-du-sud").organisation
    inbound = reply("8", to=SHARED)
    with pytest.raises(ValidationFailed):
        file_parked_text(inbound_id=inbound.id, organisation_id=stranger.id)


def test_an_organisations_own_sender_decides_whoever_texted_last(org, other_org, both) -> None:
    a, b = both(own="yes")  # B texted last
    inbound = reply("6", to=OWN_A)
    assert (inbound.interpretation, inbound.organisation_id) == ("answer", org.organisation.id)
    assert Conversation.objects.get(invitation=a).answers == {"nps": "6"}
    assert Conversation.objects.get(invitation=b).answers == {}
    assert reply("10", to=OWN_B).organisation_id == other_org.organisation.id
    assert Conversation.objects.get(invitation=b).answers == {"nps": "10"}


def test_a_reply_to_the_shared_number_only_one_organisation_awaits_is_theirs(org, other_org, api, settings):
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    assert post_interaction(api, "a-1", email=None, phone="06 12 34 56 78").status_code == 200
    # The other organisation knows the number but sent nothing: it has no survey waiting for a reply.
    Customer.objects.create(organisation=other_org.organisation, external_id="N-1", phone=PHONE)
    inbound = reply("8", to=SHARED)
    assert (inbound.interpretation, inbound.organisation_id) == ("answer", org.organisation.id)
