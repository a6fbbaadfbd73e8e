"""Development keys: the gateway's signing key pair and the field-encryption keys.

`make run` writes them once under .data/keys/ (mode 0600) and reuses them, so data
encrypted in one run is readable in the next. Production sets the same names from
its secret store instead.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.crypto import generate_key


def generate_signing_pair() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def ensure_keys(folder: Path) -> dict[str, str]:
    """Environment for every process: key file paths and secrets (created on first use)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    private, public = folder / "jwt_private.pem", folder / "jwt_public.pem"
    if not private.exists():
        priv, pub = generate_signing_pair()
        private.write_text(priv)
        public.write_text(pub)
        private.chmod(0o600)
    secrets_file = folder / "secrets.env"
    if not secrets_file.exists():
        secrets_file.write_text(
            f"FIELD_ENCRYPTION_KEYS=k1:{generate_key()}\nBLIND_INDEX_KEY={secrets.token_urlsafe(32)}\n"
        )
        secrets_file.chmod(0o600)
    env = {"JWT_PRIVATE_KEY_FILE": str(private), "JWT_PUBLIC_KEY_FILE": str(public)}
    for line in secrets_file.read_text().splitlines():
        name, _, value = line.partition("=")
        if name:
            env[name] = value
    return env
