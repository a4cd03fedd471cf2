from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from avis.accounts.models import ApiKey, Membership, Organisation, Role, Scope, TeamInvitation
from avis.accounts.signals import member_invited, password_reset_requested
from avis.audit.services import record
from avis.errors import AvisError, Conflict, NotFound, ValidationFailed

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
            try:
                password_validation.validate_password(password, user)
            except ValidationError as exc:
                raise ValidationFailed(" ".join(exc.messages), field="password") from exc
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    previous = Membership.objects.filter(organisation=organisation, user=user).values_list("role", flat=True)
    before = {"role": previous[0]} if previous else {}
    membership, _ = Membership.objects.update_or_create(
        organisation=organisation, user=user, defaults={"role": role}
    )
    if before != {"role": role}:
        record(
            organisation=organisation,
            action="role.changed",
            target=membership,
            object_label=user.get_username(),
            before=before,
            after={"role": role},
        )
    return membership


@transaction.atomic
def create_api_key(
    *,
    organisation: Organisation,
    name: str,
    created_by: AbstractBaseUser | None = None,
    scope: str = Scope.ADMIN,
) -> tuple[ApiKey, str]:
    """Return the key row and the plaintext key, which is never stored nor shown again.

    ``scope`` limits what the key may call (accounts/permissions.py); it never changes later:
    a CRM that needs more gets a new key.
    """
    if scope not in Scope.values:
        raise ValidationFailed(
            _("Unknown scope %(scope)s; use one of %(scopes)s.")
            % {"scope": scope, "scopes": ", ".join(Scope.values)},
            field="scope",
        )
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{API_KEY_PREFIX}_{prefix}_{secret}"
    key = ApiKey.objects.create(
        organisation=organisation,
        name=name,
        prefix=prefix,
        digest=_digest(plaintext),
        created_by=created_by,
        scope=scope,
    )
    record(
        organisation=organisation, action="api_key.created", target=key, after={"name": name, "scope": scope}
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
        record(organisation=organisation, action="api_key.revoked", target=key)
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


# --- The team: invitations and roles ------------------------------------------------------------


def _role_checked(role: str) -> str:
    if role not in Role.values:
        raise ValidationFailed(_("Choose one of the roles offered."), field="role")
    return role


@transaction.atomic
def invite_member(
    *,
    organisation: Organisation,
    email: str,
    role: str,
    invited_by: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> tuple[TeamInvitation, str]:
    """Invite a colleague with a role and email them the link; returns the invitation and the token
    of its link, which is never stored (only its digest).

    A new invitation to the same address replaces the one still pending (its
    link stops working), so only the latest email counts. The email leaves
    through the outbox (``member_invited``), in this same transaction.
    """
    now = now or timezone.now()
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed(_("Enter a valid email address."), field="email") from exc
    _role_checked(role)
    if Membership.objects.filter(organisation=organisation, user__username=email).exists():
        raise Conflict(_("This person is already a member: change their role below instead."), field="email")
    TeamInvitation.objects.filter(
        organisation=organisation, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = TeamInvitation.objects.create(
        organisation=organisation,
        email=email,
        role=role,
        digest=_digest(token),
        invited_by=invited_by,
        created_at=now,
        expires_at=now + timedelta(days=settings.AVIS_TEAM_INVITATION_DAYS),
    )
    inviter = organisation.name  # an API key invites on behalf of the organisation
    if invited_by is not None:
        inviter = invited_by.get_full_name() or invited_by.get_username()  # type: ignore[attr-defined]
    record(
        organisation=organisation,
        action="member.invited",
        target=invitation,
        object_label=email,
        after={"email": email, "role": role},
        at=now,
    )
    link = settings.AVIS_BASE_URL + reverse("join", args=[token])
    subject, text = invitation_email(invitation=invitation, link=link, inviter=inviter)
    member_invited.send(sender=TeamInvitation, invitation=invitation, subject=subject, text=text)
    return invitation, token


def invitation_email(*, invitation: TeamInvitation, link: str, inviter: str) -> tuple[str, str]:
    """The subject and text of the invitation email, in the organisation's language."""
    zone = ZoneInfo(invitation.organisation.default_time_zone)
    with translation.override(invitation.organisation.default_locale):
        values = {
            "organisation": invitation.organisation.name,
            "inviter": inviter,
            "role": invitation.get_role_display(),
            "link": link,
            "expires": formats.date_format(
                timezone.localtime(invitation.expires_at, zone), "DATETIME_FORMAT"
            ),
        }
        subject = _("%(inviter)s invites you to %(organisation)s on avis") % values
        text = (
            _(
                "%(inviter)s invites you to join %(organisation)s on avis as %(role)s.\n\n"
                "Choose your password here (the link works once, until %(expires)s):\n%(link)s\n\n"
                "If you did not expect this email, ignore it: nothing happens without you."
            )
            % values
        )
    return subject, text


class InvitationUnusable(AvisError):
    """The link was used, revoked, expired or never existed."""

    status_code = 410
    code = "invitation_unusable"


def usable_invitation(*, token: str, now: datetime | None = None) -> TeamInvitation:
    """The pending invitation behind a link; raises InvitationUnusable saying why it no longer works."""
    now = now or timezone.now()
    invitation = (
        TeamInvitation.objects.select_related("organisation").filter(digest=_digest(token)).first()
        if token
        else None
    )
    if invitation is None:
        raise InvitationUnusable(_("This invitation link is not valid."))
    if invitation.accepted_at is not None:
        raise InvitationUnusable(_("This invitation has already been used. Sign in instead."))
    if invitation.revoked_at is not None:
        raise InvitationUnusable(_("This invitation was withdrawn. Ask your administrator for a new one."))
    if invitation.expires_at <= now:
        raise InvitationUnusable(_("This invitation has expired. Ask your administrator for a new one."))
    return invitation


@transaction.atomic
def accept_invitation(
    *, token: str, password: str, first_name: str = "", last_name: str = "", now: datetime | None = None
) -> Membership:
    """Join the organisation with the invited role. A newcomer sets a password (the configured
    validators apply); someone who already has an avis account confirms theirs."""
    now = now or timezone.now()
    invitation = usable_invitation(token=token, now=now)
    user_model = get_user_model()
    user = user_model.objects.filter(username=invitation.email).first()
    if user is not None and user.has_usable_password():
        if not user.check_password(password):
            raise ValidationFailed(
                _("This address already has an avis account: enter its password."), field="password"
            )
    else:
        user = user or user_model(username=invitation.email, email=invitation.email)
        user.first_name, user.last_name = first_name.strip()[:150], last_name.strip()[:150]
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise ValidationFailed(" ".join(exc.messages), field="password") from exc
        user.set_password(password)
        user.save()
    # The claim: of two submissions of one link, only the one whose UPDATE matched goes on.
    taken = TeamInvitation.objects.filter(
        id=invitation.id, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(accepted_at=now)
    if not taken:
        raise InvitationUnusable(_("This invitation has already been used. Sign in instead."))
    membership, _created = Membership.objects.get_or_create(
        organisation=invitation.organisation, user=user, defaults={"role": invitation.role, "created_at": now}
    )
    record(
        organisation=invitation.organisation,
        action="member.joined",
        target=membership,
        object_label=user.get_username(),
        after={"role": membership.role},
        at=now,
    )
    return membership


@transaction.atomic
def revoke_invitation(*, organisation: Organisation, invitation_id: int, now: datetime | None = None) -> None:
    """Withdraw a pending invitation: its link stops working at once."""
    revoked = TeamInvitation.objects.filter(
        organisation=organisation, id=invitation_id, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now or timezone.now())
    if not revoked:
        raise NotFound(_("No such pending invitation in this organisation."))
    record(
        organisation=organisation,
        action="invitation.withdrawn",
        object_type="teaminvitation",
        object_id=invitation_id,
    )


@transaction.atomic
def change_member_role(*, organisation: Organisation, membership_id: int, role: str) -> Membership:
    """Give a member another role; the organisation always keeps at least one administrator."""
    _role_checked(role)
    members = Membership.objects.select_for_update().filter(organisation=organisation)
    membership = members.filter(id=membership_id).first()
    if membership is None:
        raise NotFound(_("No such person in this organisation."))
    # The administrators' rows are locked too: two admins demoting each other at once would
    # otherwise each see the other still there and leave nobody.
    admins = list(members.filter(role=Role.ADMIN).values_list("id", flat=True))
    if membership.role == Role.ADMIN and role != Role.ADMIN and admins == [membership.id]:
        raise ValidationFailed(
            _("The organisation needs at least one administrator: make someone else one first."), field="role"
        )
    before = {"role": membership.role}
    membership.role = role
    membership.save(update_fields=["role"])
    record(
        organisation=organisation,
        action="role.changed",
        target=membership,
        object_label=membership.user.get_username(),
        before=before,
        after={"role": role},
    )
    return membership


# --- Passwords and two-factor -------------------------------------------------------------------


def _organisations_of(user: AbstractBaseUser) -> list[Organisation]:
    return list(Organisation.objects.filter(memberships__user=user).order_by("id"))


def note_password_set(*, user: AbstractBaseUser, how: str) -> None:
    """Record in each of the person's organisations that their password changed (``changed`` when
    signed in, ``reset`` through the emailed link); the password itself never."""
    for organisation in _organisations_of(user):
        record(
            organisation=organisation,
            action=f"password.{how}",
            target=user,
            object_label=user.get_username(),
        )


def send_password_reset(*, user: AbstractBaseUser, subject: str, text: str, key: str) -> bool:
    """Queue the reset email through the outbox of the person's first organisation; False when the
    account belongs to none (no provider to send it with)."""
    organisations = _organisations_of(user)
    if not organisations:
        return False
    password_reset_requested.send(
        sender=type(user), organisation=organisations[0], user=user, subject=subject, text=text, key=key
    )
    return True


def confirmed_device(user: AbstractBaseUser) -> Any:
    """The person's confirmed TOTP device, or None: with one, signing in asks for a code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not getattr(user, "pk", None):
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


@transaction.atomic
def start_two_factor(*, user: AbstractBaseUser) -> Any:
    """A new, unconfirmed device with a fresh secret; any earlier unconfirmed one is dropped, so
    a secret is shown once and only the latest one shown can be confirmed."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if confirmed_device(user) is not None:
        raise Conflict(_("Two-factor authentication is already on."), field="code")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="avis", confirmed=False)


@transaction.atomic
def confirm_two_factor(*, user: AbstractBaseUser, code: str) -> Any:
    """Turn two-factor on once the app shows a right code for the secret just shown."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None:
        raise ValidationFailed(_("Scan the new code first: this page was shown again."), field="code")
    if not device.verify_token(code.strip().replace(" ", "")):
        raise ValidationFailed(_("Wrong code: type the six digits the app shows now."), field="code")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    for organisation in _organisations_of(user):
        record(
            organisation=organisation,
            action="two_factor.enabled",
            target=user,
            object_label=user.get_username(),
        )
    return device


@transaction.atomic
def disable_two_factor(*, user: AbstractBaseUser, code: str) -> None:
    """Turn two-factor off; a current code proves the person still holds the device."""
    device = confirmed_device(user)
    if device is None:
        raise ValidationFailed(_("Two-factor authentication is not on."), field="code")
    if not device.verify_token(code.strip().replace(" ", "")):
        raise ValidationFailed(_("Wrong code: type the six digits the app shows now."), field="code")
    type(device).objects.filter(user=user).delete()
    for organisation in _organisations_of(user):
        record(
            organisation=organisation,
            action="two_factor.disabled",
            target=user,
            object_label=user.get_username(),
        )


def qr_code_svg(text: str) -> str:
    """The QR code of ``text`` as inline SVG: no image request, no third party sees the secret."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=20)
    return image.to_string(encoding="unicode")
