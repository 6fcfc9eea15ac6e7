"""Token checks as plain functions: the asymmetric options and algorithm confusion."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from gateway.auth import tokens as tokens_module
from gateway.auth.tokens import (
    AuthUser,
    InvalidTokenError,
    VerifiedTokens,
    decode_access_token,
    issue_access_token,
)
from gateway.settings import GatewaySettings
from shared.settings import PaygateSettings


def _pem_pair(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    private = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _hs256_forged(claims: dict[str, object], key: bytes) -> str:
    """What an attacker builds by hand (PyJWT itself refuses to HMAC-sign with a PEM key)."""
    segments = [
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")
        for part in ({"alg": "HS256", "typ": "JWT"}, claims)
    ]
    signing_input = b".".join(segments)
    signature = base64.urlsafe_b64encode(hmac.new(key, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


def _claims() -> dict[str, object]:
    now = int(time.time())
    return {
        "sub": str(uuid.uuid4()),
        "role": "admin",
        "iss": "idp",
        "aud": "paygate",
        "iat": now,
        "exp": now + 60,
    }


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_external_identity_provider_tokens(
    algorithm: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
) -> None:
    private, public = _pem_pair(key)
    settings = GatewaySettings(jwt_algorithm=algorithm, jwt_public_key=public, jwt_issuer="idp")
    claims = _claims()
    user = decode_access_token(settings, jwt.encode(claims, private, algorithm=algorithm))
    assert str(user.id) == claims["sub"] and user.is_admin

    # algorithm confusion: the public key (which is public) used as an HMAC secret
    with pytest.raises(InvalidTokenError):
        decode_access_token(settings, _hs256_forged(claims, public.encode()))
    with pytest.raises(InvalidTokenError):
        decode_access_token(settings, jwt.encode(claims, None, algorithm="none"))
    # a token signed by another key pair
    other_private, _ = _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    if algorithm == "RS256":
        with pytest.raises(InvalidTokenError):
            decode_access_token(settings, jwt.encode(claims, other_private, algorithm="RS256"))


def test_login_can_sign_with_a_private_key() -> None:
    private, public = _pem_pair(ec.generate_private_key(ec.SECP256R1()))
    settings = GatewaySettings(jwt_algorithm="ES256", jwt_public_key=public, jwt_private_key=private)
    user_id = uuid.uuid4()
    token = issue_access_token(settings, user_id=user_id, email="a@b.c", role="user")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert decode_access_token(settings, token).id == user_id


def test_unknown_role_is_refused() -> None:
    settings = GatewaySettings()
    token = jwt.encode(
        {**_claims(), "iss": settings.jwt_issuer, "role": "root"}, settings.jwt_secret.get_secret_value()
    )
    with pytest.raises(InvalidTokenError):
        decode_access_token(settings, token)


def test_weak_secrets_stop_startup_outside_dev() -> None:
    """The gateway's settings refuse, when they are built, what must not run (its one JWT check)."""
    dev = PaygateSettings(env="dev")
    prod = PaygateSettings(
        env="prod", database_url="postgresql://db/x", service_token=secrets.token_urlsafe(48)
    )
    GatewaySettings(paygate=dev)
    with pytest.raises(ValidationError):
        GatewaySettings(paygate=prod, internal_events_url="off")
    with pytest.raises(ValidationError):
        GatewaySettings(paygate=prod, internal_events_url="off", jwt_secret="short")
    GatewaySettings(paygate=prod, internal_events_url="off", jwt_secret=secrets.token_urlsafe(48))
    with pytest.raises(ValidationError):  # cannot verify anything, in any mode
        GatewaySettings(paygate=dev, jwt_algorithm="RS256")


def test_verified_tokens_are_reused_only_for_their_configuration_and_lifetime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = GatewaySettings(jwt_ttl_seconds=60, jwt_leeway_seconds=5)
    user_id = uuid.uuid4()
    issued = int(time.time())
    token = issue_access_token(settings, user_id=user_id, email="a@b.c", role="user", now=issued)
    checks: list[str] = []
    verify = tokens_module._verify

    def counted(settings: GatewaySettings, token: str) -> tuple[AuthUser, float]:
        checks.append(token)
        return verify(settings, token)

    monkeypatch.setattr(tokens_module, "_verify", counted)
    now = [float(issued)]
    tokens = VerifiedTokens(clock=lambda: now[0])
    assert tokens.decode(settings, token).id == user_id
    assert tokens.decode(settings, token).id == user_id
    assert len(checks) == 1  # the second request reused the verified entry
    # another secret never accepts it because it was verified before
    other = GatewaySettings(jwt_secret=secrets.token_urlsafe(48), jwt_leeway_seconds=5)
    with pytest.raises(InvalidTokenError):
        tokens.decode(other, token)
    # past exp + leeway the entry no longer counts: the token is checked again
    now[0] = issued + 60 + 5 + 1.0
    tokens.decode(settings, token)
    assert len(checks) == 3
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidTokenError):
        tokens.decode(settings, forged)
