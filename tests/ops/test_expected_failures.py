"""Expected failures are a message and an exit code, never a traceback: an unreachable database (3),
a setting that cannot be parsed or used (2, naming the variable and never its value), arguments a
command does not take (2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.embedded_pg import free_port
from tests.ops.conftest import Paygate, assert_clean_failure, clean_env

PASSWORD = "hunter2-db-password"


def _unreachable_url() -> tuple[str, str]:
    port = free_port()
    return f"postgresql://paygate:{PASSWORD}@127.0.0.1:{port}/paygate", f"127.0.0.1:{port}/paygate"


def _no_traceback(output: str) -> None:
    assert "Traceback" not in output, output


# a. the dispatcher and an unreachable database


def test_the_dispatcher_reports_an_unreachable_database(paygate: Paygate) -> None:
    url, where = _unreachable_url()
    result = paygate("dispatcher", PAYGATE_DATABASE_URL=url)
    assert_clean_failure(result, 3, f"cannot reach the database at {where}")
    assert PASSWORD not in result.output


# b. DISPATCHER_* values


def test_config_check_reports_a_bad_dispatcher_value(paygate_inproc: Paygate) -> None:
    result = paygate_inproc("config", "check", "dispatcher", DISPATCHER_BATCH_SIZE="plenty")
    assert result.code == 2, result.output
    _no_traceback(result.output)
    assert "dispatcher: NOT OK" in result.out
    assert "DISPATCHER_BATCH_SIZE" in result.out
    assert "plenty" not in result.output


def test_the_dispatcher_refuses_a_bad_value_in_dev_too(
    paygate: Paygate, database_url: str, tmp_path: Path
) -> None:
    result = paygate("dispatcher", DISPATCHER_RETRY_SCHEDULE_SECONDS="soon", PAYGATE_ENV="dev")
    assert_clean_failure(result, 2, "DISPATCHER_RETRY_SCHEDULE_SECONDS")
    assert "soon" not in result.output

    # What the dev runner and the image's `paygate dispatcher` exec: the module itself.
    env = clean_env(tmp_path, PAYGATE_DATABASE_URL=database_url, DISPATCHER_BATCH_SIZE="0")
    proc = subprocess.run(
        [sys.executable, "-m", "payment_ms.dispatcher"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    _no_traceback(proc.stderr)
    assert "DISPATCHER_BATCH_SIZE" in proc.stderr


# c. a list setting that is not JSON (pydantic-settings' SettingsError)


def test_a_malformed_json_list_names_the_setting(paygate: Paygate, paygate_inproc: Paygate) -> None:
    value = "notjson-origin.example"
    # As the container runs it (a process of its own, nothing cached).
    serve = paygate("serve", "gateway", "--print-command", GATEWAY_CORS_ORIGINS=value)
    assert_clean_failure(serve, 2, "GATEWAY_CORS_ORIGINS")
    assert value not in serve.output

    check = paygate_inproc("config", "check", GATEWAY_CORS_ORIGINS=value)
    assert check.code == 2, check.output
    _no_traceback(check.output)
    assert "GATEWAY_CORS_ORIGINS" in check.out and value not in check.output

    dispatcher = paygate_inproc("config", "check", "dispatcher", DISPATCHER_ALLOWED_HOSTS=value)
    assert dispatcher.code == 2 and "DISPATCHER_ALLOWED_HOSTS" in dispatcher.out, dispatcher.output
    assert value not in dispatcher.output


# d. dev ports in the environment


@pytest.mark.parametrize("variable", ["GATEWAY_PORT", "PAYMENT_MS_PORT", "PAYGATE_DEV_DB_PORT"])
def test_a_bad_dev_port_concerns_only_the_dev_command(paygate_inproc: Paygate, variable: str) -> None:
    for args in (["--help"], ["partners", "--help"], ["dev", "--help"]):
        result = paygate_inproc(*args, **{variable: "eighty"})
        assert result.code == 0, (args, result.output)
        assert "usage: paygate" in result.out
    result = paygate_inproc("dev", **{variable: "eighty"})
    assert_clean_failure(result, 2, f"{variable} is not a port number")
    result = paygate_inproc("dev", **{variable: "70000"})
    assert_clean_failure(result, 2, f"{variable} is not a port number")


def test_a_bad_dev_port_flag_is_a_usage_error(paygate_inproc: Paygate) -> None:
    result = paygate_inproc("dev", "--gateway-port", "eighty")
    assert result.code == 2 and "--gateway-port" in result.err, result.output
    _no_traceback(result.output)


# e. a database URL that is not a PostgreSQL URL


@pytest.mark.parametrize(
    "url,reason",
    [
        (f"notaurl-{PASSWORD}", "is not a database URL"),
        (f"mysql://paygate:{PASSWORD}@db.example/paygate", "is not a PostgreSQL URL"),
        (f"postgresql://paygate:{PASSWORD}@db.example:port/paygate", "is not a database URL"),
    ],
)
@pytest.mark.parametrize(
    "args",
    [
        ("partners", "list"),
        ("migrate", "upgrade"),
        ("migrate", "upgrade", "--sql"),
        ("deliveries", "replay", "00000000-0000-4000-8000-000000000001"),
        ("healthcheck", "dispatcher"),
    ],
)
def test_a_malformed_database_url_names_the_setting_not_its_value(
    paygate_inproc: Paygate, url: str, reason: str, args: tuple[str, ...]
) -> None:
    result = paygate_inproc(*args, PAYGATE_DATABASE_URL=url)
    assert_clean_failure(result, 2, f"PAYGATE_DATABASE_URL {reason}")
    assert PASSWORD not in result.output


def test_a_malformed_database_url_flag_is_named_as_the_flag(paygate_inproc: Paygate) -> None:
    result = paygate_inproc("partners", "list", "--database-url", f"mysql://u:{PASSWORD}@h/d")
    assert_clean_failure(result, 2, "--database-url is not a PostgreSQL URL")
    assert PASSWORD not in result.output


def test_config_check_and_the_services_refuse_a_malformed_database_url(
    paygate: Paygate, paygate_inproc: Paygate
) -> None:
    url = f"mysql://paygate:{PASSWORD}@db.example/paygate"
    check = paygate_inproc("config", "check", "payment-ms", PAYGATE_DATABASE_URL=url)
    assert check.code == 2 and "PAYGATE_DATABASE_URL is not a PostgreSQL URL" in check.out, check.output
    dispatcher = paygate("dispatcher", PAYGATE_DATABASE_URL=url)
    assert_clean_failure(dispatcher, 2, "PAYGATE_DATABASE_URL is not a PostgreSQL URL")
    for result in (check, dispatcher):
        assert PASSWORD not in result.output


# f. `paygate dispatcher` takes no arguments


def test_the_dispatcher_command_takes_no_arguments(paygate_inproc: Paygate) -> None:
    result = paygate_inproc("dispatcher", "--batch-size", "5")
    assert result.code == 2, result.output
    assert "unrecognized arguments: --batch-size 5" in result.err
    help_text = paygate_inproc("dispatcher", "--help")
    assert help_text.code == 0
    assert "positional arguments" not in help_text.out and "No arguments" in help_text.out


def test_a_settings_error_of_unknown_origin_is_traced_to_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command's last resort (``paygate.cli.main``) names the variable without knowing the class."""
    from pydantic_settings import SettingsError

    from gateway.settings import GatewaySettings
    from paygate.config_check import describe_settings_error

    monkeypatch.setenv("GATEWAY_PARTNER_ALLOWED_HOSTS", "not-json")
    with pytest.raises(SettingsError) as error:
        GatewaySettings()
    (line,) = describe_settings_error(error.value)
    assert line.startswith("GATEWAY_PARTNER_ALLOWED_HOSTS: cannot be parsed")
    assert "not-json" not in line
