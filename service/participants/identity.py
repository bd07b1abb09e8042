"""Encryption of participants' identifying details with keys that live in settings only."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE = "identity.key"


class IdentityKeyError(Exception):
    """The identity key is missing, malformed, or cannot open what was stored."""


class IdentityCipher:
    """Fernet (AES-128-CBC with HMAC-SHA256) over a JSON document.

    The first key encrypts; every key decrypts, so a key can be rotated by putting the new one
    first and re-encrypting at leisure.
    """

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise IdentityKeyError("no identity key configured")
        # Lookups of encrypted terms go by a keyed digest derived from the first key.
        self._digest_key = hashlib.sha256(b"qualarchive-term-digest:" + keys[0].encode()).digest()
        try:
            self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in keys])
        except (ValueError, UnicodeEncodeError) as exc:
            raise IdentityKeyError(
                "QUALARCHIVE_IDENTITY_KEYS must hold Fernet keys (32 url-safe base64 bytes)"
            ) from exc

    def encrypt(self, identity: dict[str, Any]) -> str:
        return self.encrypt_text(json.dumps(identity, ensure_ascii=False, separators=(",", ":")))

    def digest(self, text: str) -> str:
        """A keyed digest of ``text``: equal texts match, and nobody without the key can test
        a guess against the database."""
        return hmac.new(self._digest_key, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def encrypt_text(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt_text(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise IdentityKeyError("the identity key does not open this record") from exc

    def decrypt(self, ciphertext: str) -> dict[str, Any]:
        return dict(json.loads(self.decrypt_text(ciphertext)))


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def load_or_create_key_file(data_dir: Path) -> str:
    """The embedded default: a key generated once into the data directory (mode 0600).

    Production deployments set QUALARCHIVE_IDENTITY_KEYS instead and keep the key apart from
    the database and its backups.
    """
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
