"""Importing a spreadsheet of past interactions (the mapping, dry run and chunking are in customers).

A past interaction enters the contact history and counts toward the
customer's contact pressure like a contact made by another tool; it never
goes through a contact decision and never triggers a survey. Its customer,
agent and team are created or updated on the way, keyed on their ids; an
interaction whose external id is already stored is left as it is, so the
same file can be imported twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from avis.accounts.models import Organisation
from avis.bulk import in_chunks, insert_values, upsert_rows
from avis.customers.customer_import import (
    CUSTOMER_CONTACT_FIELDS,
    CUSTOMER_ID_SYNONYMS,
    clean_contact_details,
    tally_customers,
    write_customers,
)
from avis.customers.imports import (
    ATTRIBUTE,
    CUSTOMER_ATTRIBUTE,
    Importer,
    ImportField,
    Reading,
    Row,
    RowProblem,
    SeenKeys,
    Tally,
    register_importer,
)
from avis.interactions.models import Agent, Interaction, Team, Touchpoint
from avis.interactions.services import archived_refusal
from avis.interactions.signals import ImportedInteraction, interactions_imported


@dataclass(slots=True)
class InteractionRecord:
    line: int
    external_id: str
    touchpoint_id: int
    occurred_at: datetime
    customer: str
    customer_values: dict[str, Any]
    agent: str
    agent_name: str
    team: str
    team_name: str
    attributes: dict[str, str]


INTERACTION_COLUMNS = (
    "organisation_id",
    "external_id",
    "touchpoint_id",
    "customer_id",
    "agent_id",
    "team_id",
    "occurred_at",
    "received_at",
    "attributes",
    "contact_only",
)


class InteractionImporter(Importer):
    kind = "interactions"
    label = gettext_lazy("Past interactions")
    fields = (
        ImportField(
            "external_id",
            gettext_lazy("Interaction id"),
            required=True,
            synonyms=("external id", "id", "interaction id", "event id", "id interaction", "reference"),
        ),
        ImportField(
            "touchpoint",
            gettext_lazy("Touchpoint (code)"),
            required=True,
            synonyms=("touchpoint", "point de contact", "parcours", "etape"),
        ),
        ImportField(
            "occurred_at",
            gettext_lazy("Date and time"),
            required=True,
            synonyms=("occurred at", "date", "date heure", "datetime", "horodatage", "when"),
        ),
        ImportField("customer_id", gettext_lazy("Customer id"), required=True, synonyms=CUSTOMER_ID_SYNONYMS),
        *CUSTOMER_CONTACT_FIELDS,
        ImportField(
            "agent", gettext_lazy("Agent id"), synonyms=("agent", "agent id", "conseiller", "advisor")
        ),
        ImportField("agent_name", gettext_lazy("Agent name"), synonyms=("agent name", "nom conseiller")),
        ImportField(
            "team", gettext_lazy("Team or site (code)"), synonyms=("team", "site", "equipe", "agence")
        ),
        ImportField("team_name", gettext_lazy("Team or site name"), synonyms=("team name", "nom equipe")),
    )
    attribute_targets = (
        (ATTRIBUTE, gettext_lazy("Attribute of the interaction")),
        (CUSTOMER_ATTRIBUTE, gettext_lazy("Attribute of the customer")),
    )

    def prepare(self, reading: Reading) -> dict[str, Touchpoint]:
        # Archived touchpoints included: their history is still theirs.
        return {tp.code: tp for tp in Touchpoint.objects.filter(organisation=reading.organisation)}

    def read(self, row: Row, reading: Reading, prepared: dict[str, Touchpoint]) -> InteractionRecord:
        external_id = row.required("external_id")
        code = row.required("touchpoint")
        touchpoint = prepared.get(code)
        if touchpoint is None:
            raise RowProblem(
                "touchpoint",
                _("unknown touchpoint %(code)r (known: %(known)s)")
                % {"code": code, "known": ", ".join(sorted(prepared)[:10]) or _("none yet")},
            )
        occurred_at = reading.moment(row.values.get("occurred_at", ""), "occurred_at")
        if touchpoint.archived_at is not None and occurred_at >= touchpoint.archived_at:
            # What happened before the archiving is history and comes in; what came after is refused.
            raise RowProblem("touchpoint", archived_refusal(touchpoint).message)
        customer = row.required("customer_id")
        values = clean_contact_details(row, reading)
        if row.customer_attributes:
            values["attributes"] = row.customer_attributes
        return InteractionRecord(
            row.line,
            external_id,
            touchpoint.id,
            occurred_at,
            customer,
            values,
            row.text("agent"),
            row.text("agent_name"),
            row.text("team"),
            row.text("team_name"),
            row.attributes,
        )

    def take(
        self,
        *,
        organisation: Organisation,
        records: list[InteractionRecord],
        write: bool,
        seen: SeenKeys | None,
        tally: Tally,
        now: datetime,
        reading: Reading,
    ) -> None:
        fresh = _fresh(organisation, records, seen)
        tally.counts["interactions_created"] += len(fresh)
        tally.counts["interactions_known"] += len(records) - len(fresh)
        customer_rows: dict[str, dict[str, Any]] = {}
        for record in fresh:
            values = customer_rows.setdefault(record.customer, {})
            if "attributes" in values and "attributes" in record.customer_values:
                record.customer_values["attributes"] = (
                    values["attributes"] | record.customer_values["attributes"]
                )
            values.update(record.customer_values)
        unchanged: dict[str, int] = {}
        if write:
            unchanged, customer_rows = reading.unchanged_customers(customer_rows)
        plan = tally_customers(organisation=organisation, wanted=customer_rows, seen=seen, tally=tally)
        if not write or not fresh:
            return
        with transaction.atomic():
            customers = write_customers(organisation=organisation, wanted=customer_rows, plan=plan, now=now)
            teams, agents = _teams_and_agents(organisation, fresh)
            # Tuples, not model instances: at a million rows the instances were a fifth of the import.
            agent_ids = {code: agent.id for code, agent in agents.items()}
            agent_teams = {code: agent.team_id for code, agent in agents.items()}
            team_ids = {code: team.id for code, team in teams.items()}
            customer_ids = unchanged | {key: customer.id for key, customer in customers.items()}
            organisation_id = organisation.id
            rows = [
                (
                    organisation_id,
                    record.external_id,
                    record.touchpoint_id,
                    customer_ids[record.customer],
                    agent_ids[record.agent] if record.agent else None,
                    team_ids[record.team]
                    if record.team
                    else (agent_teams[record.agent] if record.agent else None),
                    record.occurred_at,
                    now,
                    record.attributes,
                    True,
                )
                for record in fresh
            ]
            keys = insert_values(Interaction, INTERACTION_COLUMNS, rows)
            imported = [
                ImportedInteraction(key, row[3], row[2], row[6]) for key, row in zip(keys, rows, strict=True)
            ]
            reading.wrote_customers(customer_rows, customer_ids)
            interactions_imported.send(sender=Interaction, organisation=organisation, interactions=imported)


def _fresh(
    organisation: Organisation, records: list[InteractionRecord], seen: SeenKeys | None
) -> list[InteractionRecord]:
    """The records whose external id is neither stored nor met earlier in the file (first one wins)."""
    first = {}
    for record in records:
        first.setdefault(record.external_id, record)
    keys = list(first)
    known = Interaction.objects.filter(organisation=organisation).values_list("external_id", flat=True)
    stored = set(in_chunks(known, "external_id", keys))
    new = [key for key in keys if key not in stored]
    if seen is not None:
        new = seen.first("interaction", new)
    return [first[key] for key in new]


def _teams_and_agents(
    organisation: Organisation, records: list[InteractionRecord]
) -> tuple[dict[str, Team], dict[str, Agent]]:
    team_rows: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.team:
            team_rows.setdefault(record.team, {}).update(
                {"name": record.team_name} if record.team_name else {}
            )
    teams = upsert_rows(Team, organisation=organisation, key="code", wanted=team_rows)
    agent_rows: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.agent:
            values = agent_rows.setdefault(record.agent, {})
            if record.agent_name:
                values["name"] = record.agent_name
            if record.team:
                values["team"] = teams[record.team]
    agents = upsert_rows(Agent, organisation=organisation, key="external_id", wanted=agent_rows)
    return teams, agents


register_importer(InteractionImporter())
