"""Importing a spreadsheet of customers: contact details, consent, opt-outs and attributes.

The steps every import shares (mapping, dry run, chunks) are in
``avis.customers.imports``; the past-interactions import reads its customers'
cells with the functions here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from avis.accounts.models import Organisation
from avis.bulk import Upsert, in_chunks, insert_rows, new_row, plan_upsert, upsert_rows
from avis.customers.contact_details import SUPPORTED_LOCALES, known_time_zones
from avis.customers.imports import (
    NO,
    YES,
    Importer,
    ImportField,
    Reading,
    Row,
    RowProblem,
    SeenKeys,
    Tally,
    register_importer,
)
from avis.customers.models import Channel, Customer, OptOut

CUSTOMER_CONTACT_FIELDS = (
    ImportField("phone", gettext_lazy("Phone"), synonyms=("phone", "telephone", "tel", "mobile", "portable")),
    ImportField(
        "email", gettext_lazy("Email"), synonyms=("email", "e mail", "mail", "courriel", "adresse email")
    ),
    ImportField("locale", gettext_lazy("Language"), synonyms=("locale", "language", "langue", "lang")),
    ImportField("time_zone", gettext_lazy("Time zone"), synonyms=("time zone", "timezone", "fuseau horaire")),
)
CUSTOMER_ID_SYNONYMS = ("customer id", "customer", "client", "id client", "numero client", "code client")


def clean_contact_details(row: Row, reading: Reading) -> dict[str, Any]:
    """The customer's phone, email, language and time zone from a row; only the cells it fills."""
    values: dict[str, Any] = {}
    phone = row.text("phone")
    if phone:
        e164, problem = reading.phone(phone)
        if problem:
            raise RowProblem(
                "phone",
                _("%(value)r is not a valid phone number for %(region)s")
                % {"value": phone, "region": reading.region},
            )
        values["phone"] = e164
    email = row.text("email").lower()
    if email:
        if not reading.is_email(email):
            raise RowProblem("email", _("%(value)r is not an email address") % {"value": email})
        values["email"] = email
    locale = row.text("locale")
    if locale:
        primary = locale.replace("_", "-").split("-")[0].lower()
        if primary not in SUPPORTED_LOCALES:
            raise RowProblem(
                "locale", _("%(value)r is not a language avis speaks (fr or en)") % {"value": locale}
            )
        values["locale"] = primary
    zone = row.text("time_zone")
    if zone:
        if zone not in known_time_zones():
            raise RowProblem(
                "time_zone", _("%(value)r is not a time zone such as Europe/Paris") % {"value": zone}
            )
        values["time_zone"] = zone
    return values


def customer_defaults(organisation: Organisation, now: datetime) -> dict[str, Any]:
    return {
        "locale": organisation.default_locale,
        "time_zone": organisation.default_time_zone,
        "created_at": now,
        "updated_at": now,
    }


def tally_customers(
    *, organisation: Organisation, wanted: dict[str, dict[str, Any]], seen: SeenKeys | None, tally: Tally
) -> Upsert:
    """Count the customers a chunk creates and updates; the plan, for the writes that follow."""
    plan = plan_upsert(
        Customer, organisation=organisation, key="external_id", wanted=wanted, merged=_MERGED, only_given=True
    )
    new = plan.missing if seen is None else seen.first("customer", plan.missing)
    tally.counts["customers_created"] += len(new)
    tally.counts["customers_updated"] += len(plan.changed)
    return plan


def write_customers(
    *, organisation: Organisation, wanted: dict[str, dict[str, Any]], plan: Upsert, now: datetime
) -> dict[str, Customer]:
    return upsert_rows(
        Customer,
        organisation=organisation,
        key="external_id",
        wanted=wanted,
        create_defaults=customer_defaults(organisation, now),
        merged=_MERGED,
        plan=plan,
    )


_MERGED = frozenset({"attributes"})


def _yes_no(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    raise RowProblem(name, _("%(value)r is neither yes nor no") % {"value": value})


_CHANNEL_WORDS = {
    "email": Channel.EMAIL, "e-mail": Channel.EMAIL, "mail": Channel.EMAIL, "courriel": Channel.EMAIL,
    "sms": Channel.SMS, "phone": Channel.SMS, "mobile": Channel.SMS, "telephone": Channel.SMS,
    "all": Channel.ALL, "tous": Channel.ALL, "tout": Channel.ALL, **dict.fromkeys(YES - {""}, Channel.ALL),
}  # fmt: skip


def _opt_out_channels(value: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    words = [w for w in re.split(r"[\s|,;/+]+", plain) if w]
    if not words or all(w in NO for w in words):
        return set()
    unknown = [w for w in words if w not in _CHANNEL_WORDS]
    if unknown:
        raise RowProblem(
            "opted_out", _("%(value)r: write email, sms or all (several separated by |)") % {"value": value}
        )
    return {_CHANNEL_WORDS[w] for w in words}


@dataclass(slots=True)
class CustomerRecord:
    line: int
    external_id: str
    values: dict[str, Any]
    opt_outs: set[str]


class CustomerImporter(Importer):
    kind = "customers"
    label = gettext_lazy("Customers")
    fields = (
        ImportField(
            "external_id",
            gettext_lazy("Customer id"),
            required=True,
            synonyms=("external id", "id", *CUSTOMER_ID_SYNONYMS, "reference"),
        ),
        *CUSTOMER_CONTACT_FIELDS,
        ImportField(
            "consent",
            gettext_lazy("Consents to surveys (yes/no)"),
            synonyms=("consent", "consentement", "opt in"),
        ),
        ImportField(
            "sms_consent",
            gettext_lazy("Consents to SMS (yes/no)"),
            synonyms=("sms consent", "consentement sms"),
        ),
        ImportField(
            "email_consent",
            gettext_lazy("Consents to email (yes/no)"),
            synonyms=("email consent", "consentement email"),
        ),
        ImportField(
            "opted_out",
            gettext_lazy("Opted out of (email, sms, all)"),
            synonyms=("opted out", "opt out", "optout", "desinscrit", "desabonne", "stop"),
        ),
    )

    def read(self, row: Row, reading: Reading, prepared: Any) -> CustomerRecord:
        external_id = row.required("external_id")
        values = clean_contact_details(row, reading)
        if row.attributes:
            values["attributes"] = row.attributes
        opt_outs = _opt_out_channels(row.text("opted_out"))
        for name, channel in (
            ("consent", Channel.ALL),
            ("sms_consent", Channel.SMS),
            ("email_consent", Channel.EMAIL),
        ):
            text = row.text(name)
            if text and not _yes_no(text, name):
                opt_outs.add(channel)
        return CustomerRecord(row.line, external_id, values, opt_outs)

    def take(
        self,
        *,
        organisation: Organisation,
        records: list[CustomerRecord],
        write: bool,
        seen: SeenKeys | None,
        tally: Tally,
        now: datetime,
        reading: Reading,
    ) -> None:
        wanted: dict[str, dict[str, Any]] = {}
        opt_outs: dict[str, set[str]] = {}
        for record in records:
            values = wanted.setdefault(record.external_id, {})
            if "attributes" in values and "attributes" in record.values:
                record.values["attributes"] = values["attributes"] | record.values["attributes"]
            values.update(record.values)
            opt_outs.setdefault(record.external_id, set()).update(record.opt_outs)
        repeated = len(records) - len(wanted)
        if seen is not None:
            repeated += len(wanted) - len(seen.first("row", list(wanted)))
        tally.counts["repeated"] += repeated
        plan = tally_customers(organisation=organisation, wanted=wanted, seen=seen, tally=tally)
        if not write:
            existing_ids = {key: row.id for key, row in plan.existing.items()}
            tally.counts["opt_outs_recorded"] += len(_new_opt_outs(organisation, opt_outs, existing_ids))
            return
        with transaction.atomic():
            customers = write_customers(organisation=organisation, wanted=wanted, plan=plan, now=now)
            ids = {key: row.id for key, row in customers.items()}
            rows = [
                new_row(
                    OptOut,
                    organisation=organisation,
                    customer_id=customer_id,
                    channel=channel,
                    source="import",
                    created_at=now,
                )
                for customer_id, channel in _new_opt_outs(organisation, opt_outs, ids)
            ]
            insert_rows(rows)
        tally.counts["opt_outs_recorded"] += len(rows)


def _new_opt_outs(
    organisation: Organisation, wanted: dict[str, set[str]], ids: dict[str, int]
) -> list[tuple[int | None, str]]:
    """The (customer, channel) opt-outs not yet in force; a customer not yet created has none.

    An import only ever adds opt-outs: a customer who said STOP stays opted out
    whatever an older list says, until they say START themselves.
    """
    known = [ids[key] for key, channels in wanted.items() if channels and key in ids]
    in_force = OptOut.objects.filter(organisation=organisation, withdrawn_at__isnull=True)
    active = set(in_chunks(in_force.values_list("customer_id", "channel"), "customer_id", known))
    return [
        (ids.get(key), channel)
        for key, channels in wanted.items()
        for channel in sorted(channels)
        if (ids.get(key), channel) not in active
    ]


register_importer(CustomerImporter())
