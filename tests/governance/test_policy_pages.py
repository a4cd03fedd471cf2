"""The contact-policy and precision-goal pages, as an analyst and a manager use them."""

from __future__ import annotations

import pytest
from django.test import Client

from avis.governance.models import SamplingGoal
from avis.governance.services import current_policy
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db


def signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def form_of(org, **overrides: str) -> dict[str, str]:  # noqa: ANN001
    fields = {
        "window-max-0": "1",
        "window-days-0": "30",
        "window-max-1": "4",
        "window-days-1": "365",
        "quarantine_days": "10",
        "freshness_hours": "36",
        "default_rate": "100",
        "gap-call_center.call": "60",
        "priority-claim.settled": "10",
        "rate-call_center.call": "35",
        "ex-attr-0": "employee",
        "ex-op-0": "is_true",
        "ex-attr-1": "age",
        "ex-op-1": "less_than",
        "ex-value-1": "18",
        "send_from": "09:00",
        "send_until": "20:00",
        "sms-from": "10:00",
        "sms-until": "19:00",
    }
    return fields | overrides


def test_an_admin_publishes_a_new_version_from_the_page(org) -> None:
    admin = signed_in(org.admin_email)
    before = current_policy(organisation=org.organisation).version
    page = admin.get("/settings/policy/")
    assert page.status_code == 200 and "v1" in page.content.decode()
    published = admin.post("/settings/policy/", form_of(org), follow=True)
    assert published.status_code == 200
    policy = current_policy(organisation=org.organisation)
    assert policy.version == before + 1
    assert policy.windows == [{"max": 1, "days": 30}, {"max": 4, "days": 365}]
    assert policy.touchpoint_gaps == {"call_center.call": 60}
    assert policy.priorities == {"claim.settled": 10}
    assert policy.sampling_rates == {"call_center.call": 0.35}
    assert policy.exclusions == [
        {"attribute": "employee", "operator": "is_true"},
        {"attribute": "age", "operator": "less_than", "value": 18},
    ]
    assert policy.channel_sending == {"sms": {"from": "10:00", "until": "19:00"}}
    assert (policy.send_on_sunday, policy.send_on_holidays, policy.freshness_hours) == (False, False, 36)
    assert f"v{policy.version}" in published.content.decode()
    assert policy.created_by.get_username() == org.admin_email


def test_a_wrong_value_is_shown_back_with_the_form_and_nothing_published(org) -> None:
    admin = signed_in(org.admin_email)
    before = current_policy(organisation=org.organisation).version
    refused = admin.post(
        "/settings/policy/", form_of(org, **{"window-max-0": "zero"}), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert refused.status_code == 422
    body = refused.content.decode()
    assert "windows.0.max" in body and 'value="zero"' in body
    assert current_policy(organisation=org.organisation).version == before


def test_a_manager_sees_the_policy_but_cannot_change_it(org) -> None:
    manager = signed_in(org.manager_email)
    page = manager.get("/settings/policy/").content.decode()
    assert "disabled" in page and "Publish a new version" not in page
    assert manager.post("/settings/policy/", form_of(org)).status_code == 403
    assert manager.post("/settings/sampling/", {"metric": "nps", "margin": "10"}).status_code == 403


def test_an_analyst_states_a_precision_goal_and_sees_its_strata(org, api) -> None:
    open_all_day(org.organisation)
    for i in range(5):
        post_interaction(api, f"e{i}", customer=f"C-{i}", agent=f"A-{i % 2}")
    admin = signed_in(org.admin_email)
    added = admin.post(
        "/settings/sampling/",
        {"metric": "nps", "dimension": "agent", "period": "month", "margin": "10", "confidence": "0.95"},
        follow=True,
    )
    assert added.status_code == 200
    goal = SamplingGoal.objects.get(organisation=org.organisation)
    body = added.content.decode()
    assert "A-0" in body and "A-1" in body  # strata computed at once
    refused = admin.post(
        "/settings/sampling/", {"metric": "nps", "dimension": "agent", "period": "month", "margin": "x"}
    )
    assert refused.status_code == 422
    admin.post("/settings/sampling/", {"retire": str(goal.id)})
    goal.refresh_from_db()
    assert not goal.is_active


def test_the_customer_page_shows_pressure_and_opt_outs(org, api) -> None:
    open_all_day(org.organisation, quarantine_days=0)
    post_interaction(api, "e1")
    post_interaction(api, "e2", touchpoint="branch.visit")
    api.post(
        "/api/v1/customers/C-1/opt-out",
        {"channel": "sms", "source": "phone call"},
        content_type="application/json",
    )
    page = signed_in(org.manager_email).get("/customers/C-1/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-pressure="30">2' in page
    assert "phone call" in page
