"""The ``paygate`` command's main paths against the test database, as subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from paygate.cli import build_parser
from paygate.commands.deliveries import parse_since
from shared.embedded_pg import free_port
from shared.models import Partner, User
from tests.ops.conftest import Paygate, assert_clean_failure

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def _help_texts(parser, prefix):  # type: ignore[no-untyped-def]
    yield prefix
    for action in parser._actions:
        if action.choices and isinstance(action.choices, dict):
            for name, sub in action.choices.items():
                yield from _help_texts(sub, [*prefix, name])


def test_every_command_has_help() -> None:
    commands = list(_help_texts(build_parser(), []))
    assert len(commands) > 20
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args([*command, "--help"])
        assert exit_info.value.code == 0, command
    proc = subprocess.run(
        [sys.executable, "-m", "paygate", "partners", "add", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "shown" in proc.stdout


async def test_create_user_and_admin(paygate: Paygate, db_engine: AsyncEngine) -> None:
    result = paygate("create-user", "Ana@Example.com", "--password-stdin", input="a long password\n")
    assert result.code == 0, result.output
    assert "created user ana@example.com" in result.out
    assert "a long password" not in result.output

    result = paygate("create-admin", "root@example.com", "--password-stdin", input="another password\n")
    assert result.code == 0, result.output

    taken = paygate("create-user", "ANA@example.com", "--password-stdin", input="password-two\n")
    assert_clean_failure(taken, 1, "exists")

    async with db_engine.connect() as conn:
        rows = {row.email: row for row in (await conn.execute(select(User))).all()}
    assert set(rows) == {"ana@example.com", "root@example.com"}
    assert rows["ana@example.com"].role == "user"
    assert rows["root@example.com"].role == "admin"
    assert PasswordHasher().verify(rows["ana@example.com"].password_hash, "a long password")


def test_create_user_refuses_bad_input(paygate_inproc: Paygate) -> None:
    short = paygate_inproc("create-user", "cy@example.com", "--password-stdin", input="short\n")
    assert_clean_failure(short, 1, "password")
    no_tty = paygate_inproc("create-user", "cy@example.com")
    assert_clean_failure(no_tty, 2, "--password-stdin")
    bad_email = paygate_inproc("create-admin", "nobody", "--password-stdin", input="long enough pw\n")
    assert_clean_failure(bad_email, 1, "email")


async def test_users_disable_then_enable(paygate: Paygate, db_engine: AsyncEngine) -> None:
    created = paygate("create-user", "dee@example.com", "--password-stdin", input="a long password\n")
    assert created.code == 0, created.output

    async def is_active() -> bool:
        async with db_engine.connect() as conn:
            return bool(await conn.scalar(select(User.is_active).where(User.email == "dee@example.com")))

    disabled = paygate("users", "disable", "Dee@Example.com")
    assert disabled.code == 0 and "disabled user dee@example.com" in disabled.out, disabled.output
    assert not await is_active()
    again = paygate("users", "disable", "dee@example.com")
    assert again.code == 0 and "already disabled" in again.out, again.output
    assert not await is_active()

    listed = json.loads(paygate("users", "list", "--json").out)
    assert listed["total"] == 1 and listed["items"][0]["email"] == "dee@example.com"
    assert listed["items"][0]["active"] is False
    assert "password" not in json.dumps(listed)

    enabled = paygate("users", "enable", "dee@example.com")
    assert enabled.code == 0 and "enabled user dee@example.com" in enabled.out, enabled.output
    assert await is_active()


def test_users_commands_refuse_an_unknown_email(paygate_inproc: Paygate) -> None:
    for action in ("disable", "enable"):
        assert_clean_failure(paygate_inproc("users", action, "ghost@example.com"), 1, "no user", "ghost@")
    no_email = paygate_inproc("users", "disable")
    assert no_email.code == 2 and "email" in no_email.err and "Traceback" not in no_email.output
    assert paygate_inproc("users", "list").out.strip() == "no users"
    made = paygate_inproc("create-admin", "ops@example.com", "--password-stdin", input="a long password\n")
    assert made.code == 0, made.output
    assert "ops@example.com" in paygate_inproc("users", "list", "--active").out
    assert paygate_inproc("users", "list", "--disabled").out.strip() == "no users"


async def test_partners_add_list_rotate_disable(paygate: Paygate, db_engine: AsyncEngine) -> None:
    added = paygate(
        "partners", "add", "--name", "acme", "--url", "http://127.0.0.1:9/hooks", "--events",
        "payment.succeeded,payment.refunded",
    )  # fmt: skip
    assert added.code == 0, added.output
    secrets = SECRET.findall(added.out)
    assert len(secrets) == 1, "the secret is shown exactly once"
    partner_id = re.search(r"\(([0-9a-f-]{36})\)", added.out).group(1)  # type: ignore[union-attr]
    async with db_engine.connect() as conn:
        partner = (await conn.execute(select(Partner))).one()
    assert str(partner.id) == partner_id and partner.secret == secrets[0]
    assert partner.event_types == ["payment.succeeded", "payment.refunded"]

    listed = paygate("partners", "list")
    assert listed.code == 0 and partner_id in listed.out and "acme" in listed.out
    assert "whsec_" not in listed.output, "list never shows secrets"

    rotated = paygate("partners", "rotate-secret", partner_id)
    assert rotated.code == 0, rotated.output
    new_secrets = SECRET.findall(rotated.out)
    assert len(new_secrets) == 1 and new_secrets[0] != secrets[0]
    async with db_engine.connect() as conn:
        partner = (await conn.execute(select(Partner))).one()
    assert partner.secret == new_secrets[0] and partner.retired_secrets[0]["secret"] == secrets[0]
    assert "whsec_" not in "".join(rotated.out.splitlines()[:-2]), "only the new secret is printed"
    listed = paygate("partners", "list")
    assert "(current)" in listed.out and "(retired, signs until" in listed.out

    disabled = paygate("partners", "disable", partner_id, "--reason", "maintenance")
    assert disabled.code == 0, disabled.output
    async with db_engine.connect() as conn:
        partner = (await conn.execute(select(Partner))).one()
    assert not partner.enabled and partner.disabled_reason == "maintenance"


def test_partner_commands_refuse_what_they_cannot_do(paygate_inproc: Paygate) -> None:
    added = paygate_inproc("partners", "add", "--name", "acme", "--url", "http://127.0.0.1:9/h", "--json")
    assert added.code == 0, added.output
    partner_id = json.loads(added.out)["id"]
    duplicate = paygate_inproc("partners", "add", "--name", "acme", "--url", "http://127.0.0.1:9/other")
    assert_clean_failure(duplicate, 1, "exists")
    refused = paygate_inproc("partners", "add", "--name", "x", "--url", "ftp://example.com/x")
    assert_clean_failure(refused, 1, "url")
    unknown = "00000000-0000-4000-8000-000000000099"
    assert_clean_failure(paygate_inproc("partners", "rotate-secret", unknown), 1, "partner")
    assert_clean_failure(paygate_inproc("partners", "disable", unknown), 1, "partner")
    assert_clean_failure(paygate_inproc("partners", "enable", "acme"), 1, "not a partner id")

    assert paygate_inproc("partners", "disable", partner_id).code == 0
    listed = json.loads(paygate_inproc("partners", "list", "--json").out)
    assert listed["total"] == 1 and listed["items"][0]["enabled"] is False
    assert "secret" not in listed["items"][0]
    assert paygate_inproc("partners", "list", "--enabled").out.strip() == "no partners"
    assert paygate_inproc("partners", "enable", partner_id).code == 0
    assert partner_id in paygate_inproc("partners", "list", "--enabled").out


def test_deliveries_replay_refuses_what_does_not_exist(paygate_inproc: Paygate) -> None:
    missing = paygate_inproc("deliveries", "replay", "00000000-0000-4000-8000-000000000001")
    assert_clean_failure(missing, 1, "not found")
    assert_clean_failure(paygate_inproc("deliveries", "replay"), 2, "DELIVERY_ID")
    assert_clean_failure(paygate_inproc("deliveries", "replay", "--partner", str(uuid.uuid4())), 2, "--since")
    bad_since = paygate_inproc("deliveries", "replay", "--partner", str(uuid.uuid4()), "--since", "soon")
    assert_clean_failure(bad_since, 2, "--since")
    none = paygate_inproc("deliveries", "replay", "--partner", str(uuid.uuid4()), "--since", "2d")
    assert none.code == 0 and none.out.startswith("0 failed"), none.output


def test_parse_since() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert parse_since("6h", now) == datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    assert parse_since("2026-11-20T10:00:00Z") == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert parse_since("2026-11-20T10:00:00") == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_migrate_sql_prints_the_schema_without_a_database(paygate: Paygate, paygate_inproc: Paygate) -> None:
    result = paygate("migrate", "upgrade", "head", "--sql", PAYGATE_DATABASE_URL="")
    assert result.code == 0, result.output
    for table in ("users", "payments", "payment_events", "webhook_deliveries"):
        assert re.search(rf"CREATE TABLE {table} \(", result.out), table
    assert "alembic_version" in result.out and "Traceback" not in result.err

    down = paygate_inproc("migrate", "downgrade", "head:base", "--sql", PAYGATE_DATABASE_URL="")
    assert down.code == 0 and "DROP TABLE payments" in down.out, down.output
    assert_clean_failure(paygate_inproc("migrate", "downgrade", "base", "--sql"), 2, "head:base")


def test_migrate_current_and_history(paygate_inproc: Paygate) -> None:
    history = paygate_inproc("migrate", "history")
    assert history.code == 0, history.output
    head = re.search(r"-> (\w+) \(head\)", history.out).group(1)  # type: ignore[union-attr]
    current = paygate_inproc("migrate", "current")
    assert current.code == 0 and head in current.out, current.output
    assert paygate_inproc("migrate", "upgrade").code == 0, "an up-to-date database: a no-op"
    assert_clean_failure(paygate_inproc("migrate", "upgrade", "nosuchrevision"), 1, "alembic")


def _unreachable_url() -> tuple[str, str]:
    port = free_port()
    return f"postgresql://paygate:hunter2-db-password@127.0.0.1:{port}/paygate", f"127.0.0.1:{port}/paygate"


async def test_an_unreachable_database_is_a_message_not_a_traceback(paygate: Paygate) -> None:
    url, where = _unreachable_url()
    result = paygate("create-user", "x@example.com", "--password-stdin", input="a long password\n",
                     PAYGATE_DATABASE_URL=url)  # fmt: skip
    assert_clean_failure(result, 3, f"cannot reach the database at {where}")
    assert "hunter2" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("partners", "list"),
        ("users", "disable", "x@example.com"),
        ("migrate", "upgrade"),
        ("healthcheck", "dispatcher"),
        ("deliveries", "replay", "00000000-0000-4000-8000-000000000001"),
    ],
)
def test_every_database_command_reports_an_unreachable_database(
    paygate_inproc: Paygate, args: tuple[str, ...]
) -> None:
    url, where = _unreachable_url()
    result = paygate_inproc(*args, PAYGATE_DATABASE_URL=url)
    assert_clean_failure(result, 3, f"cannot reach the database at {where}")
    assert "hunter2" not in result.output


def test_a_missing_database_url_is_a_configuration_error(paygate_inproc: Paygate) -> None:
    result = paygate_inproc("partners", "list", PAYGATE_DATABASE_URL="")
    assert_clean_failure(result, 2, "PAYGATE_DATABASE_URL is not set")


def test_partner_payer_details_are_off_unless_asked_for(paygate_inproc: Paygate) -> None:
    plain = paygate_inproc("partners", "add", "--name", "plain", "--url", "http://127.0.0.1:9/a", "--json")
    assert plain.code == 0, plain.output
    assert json.loads(plain.out)["payer_details"] is False
    added = paygate_inproc(
        "partners", "add", "--name", "crm", "--url", "http://127.0.0.1:9/b", "--payer-details", "--json"
    )
    assert added.code == 0, added.output
    partner_id = json.loads(added.out)["id"]
    assert json.loads(added.out)["payer_details"] is True

    off = paygate_inproc("partners", "payer-details", partner_id, "off")
    assert off.code == 0 and "no longer carry" in off.out, off.output
    listed = json.loads(paygate_inproc("partners", "list", "--json").out)["items"]
    assert {p["name"]: p["payer_details"] for p in listed} == {"plain": False, "crm": False}
    on = paygate_inproc("partners", "payer-details", partner_id, "on")
    assert on.code == 0, on.output
    listed = json.loads(paygate_inproc("partners", "list", "--json").out)["items"]
    assert {p["name"]: p["payer_details"] for p in listed} == {"plain": False, "crm": True}
    assert paygate_inproc("partners", "payer-details", partner_id, "maybe").code == 2
    assert paygate_inproc("partners", "payer-details", str(uuid.uuid4()), "on").code == 1


def test_create_user_help_shows_a_stdin_example_that_works_when_pasted(paygate_inproc: Paygate) -> None:
    shown = paygate_inproc("create-user", "--help")
    assert shown.code == 0
    assert "printf '%s\\n' \"$PW\" | paygate create-" in shown.out
    assert "%%" not in shown.out


def test_db_roles_sets_up_the_service_roles_and_migrate_upgrade_keeps_them(
    paygate_inproc: Paygate, database_url: str
) -> None:
    from tests.fixtures.database import role_urls

    roles = role_urls(database_url)
    if not roles:
        pytest.skip("the test database user may not create roles")
    assert_clean_failure(paygate_inproc("db", "roles"), 2, "PAYGATE_GATEWAY_DATABASE_URL")
    done = paygate_inproc("db", "roles", **roles)
    assert done.code == 0 and "paygate_gateway (gateway), paygate_payment_ms (payment-ms)" in done.err
    assert "test-role-password" not in done.output
    upgraded = paygate_inproc("migrate", "upgrade", "head", **roles)
    assert upgraded.code == 0 and "each granted its own tables only" in upgraded.err
    owner_as_service = paygate_inproc(
        "db", "roles", **{**roles, "PAYGATE_GATEWAY_DATABASE_URL": database_url}
    )
    assert_clean_failure(owner_as_service, 2, "connects as the owner")


def test_partners_portal_link_issues_a_single_use_link_and_revokes_it(paygate_inproc: Paygate) -> None:
    added = paygate_inproc("partners", "add", "--name", "portal", "--url", "http://127.0.0.1:9/p", "--json")
    partner_id = json.loads(added.out)["id"]
    issued = paygate_inproc("partners", "portal-link", partner_id, "--json")
    assert issued.code == 0, issued.output
    link = json.loads(issued.out)
    assert "/portal/enter/pgl_" in link["url"] and link["expires_at"]
    shown = paygate_inproc("partners", "portal-link", partner_id)
    assert shown.code == 0 and "/portal/enter/pgl_" in shown.out and "opens once" in shown.out
    revoked = paygate_inproc("partners", "portal-link", partner_id, "--revoke", link["id"])
    assert revoked.code == 0 and "revoked" in revoked.out, revoked.output
    again = paygate_inproc("partners", "portal-link", partner_id, "--revoke", link["id"])
    assert again.code == 1 and "No such live portal link" in again.output
    assert paygate_inproc("partners", "portal-link", str(uuid.uuid4())).code == 1
