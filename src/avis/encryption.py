"""Secrets kept in the database (an organisation's provider credentials), encrypted at rest.

Fernet (AES-128-CBC with an HMAC-SHA256, from ``cryptography``) with a key
that lives only in the environment (``AVIS_SECRETS_KEY``): a copy of the
database, a backup or a dump shows a token that neither reads nor can be
altered without that key. Several keys, comma-separated, allow rotation: the
first encrypts, any of them decrypts.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.translation import gettext as _

from avis.env import ConfigurationError
from avis.errors import AvisError


class SecretsKeyMissing(AvisError):
    """A secret was to be stored, or read, without AVIS_SECRETS_KEY configured."""

    status_code = 422
    code = "secrets_key_missing"


class SecretUnreadable(AvisError):
    """A stored secret cannot be decrypted with the configured keys (key changed or removed)."""

    status_code = 500
    code = "secret_unreadable"


def parse_keys(value: str) -> list[bytes]:
    """The Fernet keys of ``AVIS_SECRETS_KEY``; raises ConfigurationError on a malformed one."""
    keys = [part.strip().encode() for part in value.split(",") if part.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError as exc:
            raise ConfigurationError(
                f"AVIS_SECRETS_KEY: key {position} is not a Fernet key (32 url-safe base64-encoded bytes; "
                'make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())")'
            ) from exc
    return keys


@lru_cache(maxsize=4)
def _cipher(value: str) -> MultiFernet | None:
    keys = parse_keys(value)
    return MultiFernet([Fernet(key) for key in keys]) if keys else None


def secrets_configured() -> bool:
    return _cipher(settings.AVIS_SECRETS_KEY) is not None


def seal(plaintext: str) -> str:
    """The encrypted form of ``plaintext``, to store; raises SecretsKeyMissing without a key."""
    cipher = _cipher(settings.AVIS_SECRETS_KEY)
    if cipher is None:
        raise SecretsKeyMissing(
            _(
                "Secrets cannot be saved: the installation has no encryption key. "
                "Ask whoever runs avis to set AVIS_SECRETS_KEY."
            )
        )
    return cipher.encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str:
    """The plaintext of a stored secret ("" for none); raises SecretUnreadable when no key opens it."""
    if not token:
        return ""
    cipher = _cipher(settings.AVIS_SECRETS_KEY)
    if cipher is None:
        raise SecretUnreadable("a stored secret cannot be read: AVIS_SECRETS_KEY is not set")
    try:
        return cipher.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("a stored secret cannot be read with the keys in AVIS_SECRETS_KEY") from exc
