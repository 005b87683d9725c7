"""Pure pieces of the engine: settings, value conversion, the schema mapping."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pim_engine.model import Attribute, Entity, ModelError
from pim_engine.schema import create_table_sql, quote, tables_for
from pim_engine.settings import Settings, SettingsError, parse_settings
from pim_engine.storage.sqlite_values import canonical_decimal

pytestmark = pytest.mark.unit


def test_flags_override_environment() -> None:
    env = {
        "PIM_MODEL": "m.yaml",
        "PIM_DB": "/data/x.db",
        "PIM_PORT": "9000",
        "PIM_ALLOW_DESTRUCTIVE_MIGRATION": "true",
        "PIM_LOG_LEVEL": "DEBUG",
    }
    assert parse_settings([], env) == Settings("m.yaml", "/data/x.db", "0.0.0.0", 9000, True, "debug")
    flags = parse_settings(["--port", "81", "--db", "y.db", "--host", "127.0.0.1"], env)
    assert (flags.port, flags.db, flags.host) == (81, "y.db", "127.0.0.1")
    assert parse_settings(
        ["--allow-destructive-migration"], {"PIM_MODEL": "m", "PIM_DB": "d"}
    ).allow_destructive_migration


@pytest.mark.parametrize(
    ("env", "culprit"),
    [
        ({"PIM_DB": "d"}, "PIM_MODEL"),
        ({"PIM_MODEL": "m"}, "PIM_DB"),
        ({"PIM_MODEL": "m", "PIM_DB": "d", "PIM_PORT": "http"}, "port"),
        (
            {"PIM_MODEL": "m", "PIM_DB": "d", "PIM_ALLOW_DESTRUCTIVE_MIGRATION": "maybe"},
            "PIM_ALLOW_DESTRUCTIVE_MIGRATION",
        ),
        ({"PIM_MODEL": "m", "PIM_DB": "d", "PIM_LOG_LEVEL": "loud"}, "log level"),
    ],
)
def test_bad_settings_name_the_culprit(env: dict[str, str], culprit: str) -> None:
    with pytest.raises(SettingsError, match=culprit):
        parse_settings([], env)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.1", "0.1"),
        ("19.90", "19.90"),
        ("7", "7"),
        ("1E+2", "100"),
        ("-0.0", "0.0"),
        ("0.30000000000000000000000001", "0.30000000000000000000000001"),
    ],
)
def test_decimals_are_canonical_fixed_point(value: str, expected: str) -> None:
    assert canonical_decimal(Decimal(value)) == expected


def test_canonical_decimal_never_uses_exponents() -> None:
    assert canonical_decimal(Decimal("1.5E-7")) == "0.00000015"


def test_identifiers_are_quoted() -> None:
    assert quote('we"ird') == '"we""ird"'
    tables = tables_for([Entity("图书", (Attribute("书名", "string"),))])
    sql = create_table_sql(tables["图书"])
    assert sql.startswith('CREATE TABLE "图书" ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "书名" TEXT')


def test_mapping_refuses_what_sqlite_cannot_hold() -> None:
    with pytest.raises(ModelError, match="unknown entity"):
        tables_for([Entity("A", (Attribute("b", "reference", reference="Missing"),))])
    with pytest.raises(ModelError, match="reserved"):
        tables_for([Entity("_pim_meta", ())])
    with pytest.raises(ModelError, match="differ only by case"):
        tables_for([Entity("Item", ()), Entity("item", ())])
