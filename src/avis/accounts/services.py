from __future__ import annotations

import hashlib
import hmac
import secrets

import phonenumbers
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from avis.accounts.models import ApiKey, Membership, Organisation, Role
from avis.errors import Conflict, NotFound, ValidationFailed

API_KEY_PREFIX = "avis"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_organisation(
    *,
    name: str,
    slug: str | None = None,
    default_region: str = "FR",
    default_locale: str = "fr",
    default_time_zone: str = "Europe/Paris",
) -> Organisation:
    slug = slug or slugify(name)[:60]
    if not slug:
        raise ValidationFailed("An organisation needs a name made of letters or digits.", field="name")
    if Organisation.objects.filter(slug=slug).exists():
        raise Conflict(f"An organisation with the slug {slug!r} already exists.", field="slug")
    return Organisation.objects.create(
        name=name,
        slug=slug,
        default_region=default_region.upper(),
        default_locale=default_locale,
        default_time_zone=default_time_zone,
    )


@transaction.atomic
def add_member(
    *,
    organisation: Organisation,
    email: str,
    role: str,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> Membership:
    """Create the user if needed and give them a role in the organisation."""
    if role not in Role.values:
        raise ValidationFailed(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.", field="role")
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=email.lower(),
        defaults={"email": email.lower(), "first_name": first_name, "last_name": last_name},
    )
    if created or password:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    membership, _ = Membership.objects.update_or_create(
        organisation=organisation, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def create_api_key(
    *, organisation: Organisation, name: str, created_by: AbstractBaseUser | None = None
) -> tuple[ApiKey, str]:
    """Return the key row and the plaintext key, which is never stored nor shown again."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{API_KEY_PREFIX}_{prefix}_{secret}"
    key = ApiKey.objects.create(
        organisation=organisation,
        name=name,
        prefix=prefix,
        digest=_digest(plaintext),
        created_by=created_by,
    )
    return key, plaintext


@transaction.atomic
def revoke_api_key(*, organisation: Organisation, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(organisation=organisation, id=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def authenticate_api_key(plaintext: str) -> ApiKey | None:
    """Find the active key for a bearer token, comparing digests in constant time."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    key = (
        ApiKey.objects.select_related("organisation").filter(prefix=parts[1], revoked_at__isnull=True).first()
    )
    if key is None or not hmac.compare_digest(key.digest, _digest(plaintext)):
        return None
    now = timezone.now()
    # Touch at most once a minute: a busy integration must not turn every
    # request into a write on the same row.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(id=key.id).update(last_used_at=now)
    return key


# Numbers that can receive a text: a mobile, or a number the plan does not tell apart (US, CA).
_TEXTABLE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalise_mobile_phone(raw: str, *, region: str) -> str:
    """The E.164 form of a mobile number, a national one read in ``region``; "" for none.

    A landline is refused: an SMS to it is paid for and never read.
    """
    raw = raw.strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationFailed(
            _("Enter a valid phone number, for example +33 6 12 34 56 78."), field="mobile_phone"
        )
    if phonenumbers.number_type(number) not in _TEXTABLE:
        raise ValidationFailed(
            _("This number cannot receive text messages: give a mobile."), field="mobile_phone"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@transaction.atomic
def update_notification_settings(
    *,
    organisation: Organisation,
    membership_id: int,
    mobile_phone: str,
    sms_when_assigned: bool,
    sms_when_escalated: bool,
) -> Membership:
    """A member's mobile and which case notifications reach it, in this organisation only."""
    membership = (
        Membership.objects.select_for_update().filter(organisation=organisation, id=membership_id).first()
    )
    if membership is None:
        raise NotFound(_("No such person in this organisation."))
    membership.mobile_phone = normalise_mobile_phone(mobile_phone, region=organisation.default_region)
    membership.sms_when_assigned = sms_when_assigned
    membership.sms_when_escalated = sms_when_escalated
    membership.save(update_fields=["mobile_phone", "sms_when_assigned", "sms_when_escalated"])
    return membership
