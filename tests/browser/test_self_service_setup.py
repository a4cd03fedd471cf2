"""Issue 14, as a person does it: from `avis createorg` to a first answer and its case, all on screen.

Only the organisation is made on the command line. In Chromium, its first
administrator follows the set-up checklist: a touchpoint, its survey with a
condition, the SMS channel on the simulator, the contact policy, a colleague
invited by email who joins, 1,000 customers and 5,000 past interactions
imported from files with three bad rows, an API key. Then a system posts an
interaction, the customer answers on a phone-sized page, and the admin sees
the answer and the case.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from avis.accounts.models import Membership
from avis.interactions.models import Interaction
from tests.browser.conftest import PHONE
from tests.browser.test_respondent_flow import link_in, sign_in
from tests.conftest import Mailbox
from tests.e2e.self_service import (
    BAD_CUSTOMER_LINE,
    BAD_DATE_LINE,
    BAD_TOUCHPOINT_LINE,
    avis,
    customers_file,
    interactions_file,
    plain_text,
)
from tests.factories import PASSWORD, interaction_payload

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ADMIN = "gerant@garage-martin.example"
COLLEAGUE = "claire@garage-martin.example"
CODE = "workshop.visit"


def import_file(desk: Page, kind: str, name: str, content: bytes) -> None:
    desk.locator('nav a[href="/imports/"]').click()
    desk.locator(f'input[name="kind"][value="{kind}"]').check()
    desk.locator("#import-file").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": content}]
    )
    desk.locator("#upload button[type=submit]").click()
    desk.locator("#mapping button[type=submit]").click()  # the columns are guessed from their French names
    expect(desk.locator("#confirm")).to_be_visible(timeout=60_000)


def test_a_company_sets_itself_up_on_screen_and_gets_its_first_answer(
    site: str, desk: Page, new_context, smtp_server: Mailbox, playwright, settings
) -> None:  # noqa: ANN001
    # `avis createorg` runs apart, with the real password hasher: the test's server must read its hash.
    settings.PASSWORD_HASHERS = [
        *settings.PASSWORD_HASHERS,
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    avis("createorg", "Garage Martin", "--admin-email", ADMIN, "--admin-password", PASSWORD)
    sign_in(desk, site, ADMIN)
    expect(desk.locator("#setup-steps li.missing")).to_have_count(6)

    # 1. The touchpoint.
    desk.locator('[data-step="touchpoints"] a').click()
    desk.locator("#tp-code").fill(CODE)
    desk.locator("#tp-name-fr").fill("Passage à l'atelier")
    desk.locator("#tp-name-en").fill("Workshop visit")
    desk.get_by_role("button", name="Créer le point de contact").click()
    expect(desk).to_have_url(f"{site}/settings/touchpoints/{CODE}/")

    # 2. Its survey, with a question asked only of unhappy customers.
    build_survey_with_a_condition(desk, site)

    # 3. The SMS channel on the simulator, the email sender's name.
    desk.goto(f"{site}/")
    desk.locator('[data-step="channels"] a').click()
    desk.locator("#sms-provider").select_option("simulator")
    desk.locator("#sms-sender").fill("GARAGE")
    desk.locator("#email-sender-name").fill("Garage Martin")
    desk.locator("main form.actions button.primary").click()
    expect(desk.locator(".notice")).to_be_visible()

    # 4. The contact policy: surveys may leave at any hour, any day (the test runs at any instant).
    desk.goto(f"{site}/")
    desk.locator('[data-step="policy"] a').click()
    desk.locator("#send_from").fill("00:00")
    desk.locator("#send_until").fill("00:00")
    desk.locator('input[name="send_on_sunday"]').check()
    desk.locator('input[name="send_on_holidays"]').check()
    desk.locator("form.policy button.pill").click()
    expect(desk.get_by_text("La version 2 est désormais en vigueur.")).to_be_visible()

    # 5. A colleague, invited by email, chooses a password and joins.
    desk.goto(f"{site}/")
    desk.locator('[data-step="team"] a').click()
    desk.locator("#invite-email").fill(COLLEAGUE)
    desk.locator("#invite-role").select_option("manager")
    desk.locator('form[action="/settings/people/invite"] button').click()
    expect(desk.locator("main")).to_contain_text(COLLEAGUE)
    (invitation,) = smtp_server.to(COLLEAGUE)
    join = re.search(r"https?://\S+/join/\S+", plain_text(invitation)).group(0)  # type: ignore[union-attr]
    colleague = new_context().new_page()
    colleague.goto(join)
    colleague.locator("#password").fill("un mot de passe solide")
    colleague.locator("#password-again").fill("un mot de passe solide")
    colleague.locator("button.primary").click()
    expect(colleague).not_to_have_url(re.compile("/join/"))
    assert Membership.objects.filter(user__username=COLLEAGUE, role="manager").exists()

    # 6. Customers and a year of past interactions from files; the three bad rows are named, the rest kept.
    import_file(desk, "customers", "clients.csv", customers_file())
    expect(desk.locator("#bad-rows")).to_contain_text(str(BAD_CUSTOMER_LINE))
    desk.locator("#confirm button").click()
    expect(desk.locator("#confirm")).to_have_count(0, timeout=120_000)
    import_file(desk, "interactions", "historique.csv", interactions_file(code=CODE, now=timezone.now()))
    bad = desk.locator("#bad-rows")
    expect(bad).to_contain_text(str(BAD_TOUCHPOINT_LINE))
    expect(bad).to_contain_text(str(BAD_DATE_LINE))
    desk.locator("#confirm button").click()
    expect(desk.locator("#confirm")).to_have_count(0, timeout=120_000)
    assert Interaction.objects.filter(external_id__startswith="H-").count() == 4998

    # 7. An API key, shown once; a system posts the first live interaction with it.
    desk.goto(f"{site}/settings/api-keys/")
    desk.locator("#key-name").fill("CRM")
    desk.locator("main form.row button.primary").click()
    key = desk.locator("#new-key").inner_text()
    crm = playwright.request.new_context(base_url=site, extra_http_headers={"Authorization": f"Bearer {key}"})
    payload = interaction_payload(
        "live-1",
        touchpoint=CODE,
        customer="C-NEW",
        email="nouveau.client@example.fr",
        phone=None,
        occurred_at=timezone.now() - timedelta(minutes=3),
    )
    reply = crm.post("/api/v1/interactions", data=payload)
    assert reply.status == 200, reply.text()
    assert reply.json()["decision"]["outcome"] == "invite", reply.json()
    crm.dispose()

    desk.goto(f"{site}/")
    expect(desk.locator("#setup-steps")).to_have_count(0)  # every step done: the checklist is gone

    # 8. The customer answers on a phone; the follow-up for unhappy customers appears and is answered.
    (email,) = smtp_server.to("nouveau.client@example.fr")
    phone = new_context(**PHONE).new_page()
    phone.goto(link_in(email))
    answer_unhappily(phone)

    # 9. The admin sees the case, and the answers in it.
    desk.goto(f"{site}/cases/")
    row = desk.locator("#case-rows tr[data-case]").filter(has_text="C-NEW")
    expect(row).to_be_visible(timeout=10_000)
    row.get_by_role("link").first.click()
    expect(desk.locator("main")).to_contain_text("Le délai était trop long.")


def build_survey_with_a_condition(desk: Page, site: str) -> None:
    """From the checklist to a published survey whose comment is asked only when NPS ≤ 6."""
    desk.goto(f"{site}/")
    desk.locator('[data-step="surveys"] a').click()
    desk.locator("#new-touchpoint").select_option(CODE)
    desk.locator("form.stack button.primary").click()
    expect(desk.locator("#designer-form")).to_be_visible()
    desk.locator('select[name="comment.condition"]').select_option("nps<=")
    desk.locator('input[name="comment.condition.at_most"]').fill("6")
    desk.locator('#designer-form button[value="publish"]').click()
    expect(desk.locator('[data-field="state"]')).to_contain_text("1", timeout=10_000)


def answer_unhappily(phone: Page) -> None:
    """An NPS of 3: the comment, asked only of unhappy customers, appears; answered, then sent."""
    expect(phone.locator("#q-comment")).to_have_count(0)
    with phone.expect_response(
        lambda r: r.request.method == "POST"
    ):  # the page asks which questions now apply
        phone.locator("#q-nps").get_by_role("radio", name="3", exact=True).tap()
    expect(phone.locator("#field-comment")).to_be_visible()
    # No condition reads the resolution here: choosing it asks the server nothing.
    phone.locator("#q-resolved").get_by_role("radio").last.tap()
    phone.locator("#field-comment").fill("Le délai était trop long.")
    phone.locator("button.send").tap()
    expect(phone.get_by_role("radio")).to_have_count(0)
