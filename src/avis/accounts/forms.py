"""Django's password forms, sending and recording the avis way."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.template import loader

from avis.accounts.services import note_password_set, send_password_reset


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """The configured validators apply (Django's form runs them); the change is recorded."""

    def save(self, commit: bool = True) -> Any:
        user = super().save(commit=commit)
        note_password_set(user=user, how="changed")
        return user


class SetPasswordForm(auth_forms.SetPasswordForm):
    """The new password chosen through the emailed link: validated, then recorded."""

    def save(self, commit: bool = True) -> Any:
        user = super().save(commit=commit)
        note_password_set(user=user, how="reset")
        return user


class PasswordResetForm(auth_forms.PasswordResetForm):
    """The link leaves through the outbox of the person's organisation, like every avis email.

    Whether the address exists is never said: the page answers the same either way.
    """

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        # The link is built on AVIS_BASE_URL, never on the request's Host header.
        context = {**context, "base_url": settings.AVIS_BASE_URL}
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        text = loader.render_to_string(email_template_name, context)
        # One email per link: the key is derived from the token, never the token itself.
        key = "password-reset-" + hashlib.sha256(context["token"].encode()).hexdigest()[:24]
        send_password_reset(user=context["user"], subject=subject, text=text, key=key)
