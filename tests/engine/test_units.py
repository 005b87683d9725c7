"""Pure pieces of the engine: settings, value conversion, the schema mapping."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic_core import PydanticCustomError

from pim_engine.database_url import DatabaseUrlError, parse, redact
from pim_engine.json_body import MAX_JSON_DEPTH, BodyError, Refused, check_json_value, parse_body
from pim_engine.model import Attribute, Entity, ModelError
from pim_engine.schema import create_table_sql, index_sqls, quote, tables_for
from pim_engine.settings import Settings, SettingsError, parse_settings
from pim_engine.storage import postgres_schema
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
    assert parse_settings([], env) == Settings("m.yaml", "sqlite:////data/x.db", "0.0.0.0", 9000, True, "debug")
    flags = parse_settings(["--port", "81", "--db", "y.db", "--host", "127.0.0.1"], env)
    assert (flags.port, flags.database_url, flags.host) == (81, "sqlite:///y.db", "127.0.0.1")
    assert parse_settings(
        ["--allow-destructive-migration"], {"PIM_MODEL": "m", "PIM_DB": "d"}
    ).allow_destructive_migration


@pytest.mark.parametrize(
    ("env", "culprit"),
    [
        ({"PIM_DB": "d"}, "PIM_MODEL"),
        ({"PIM_MODEL": "m"}, "PIM_DATABASE_URL or PIM_DB"),
        ({"PIM_MODEL": "m", "PIM_DATABASE_URL": "mysql://x/y"}, "PIM_DATABASE_URL: .*'mysql' is not supported"),
        ({"PIM_MODEL": "m", "PIM_DATABASE_URL": "postgresql:///db"}, "names no host"),
        ({"PIM_MODEL": "m", "PIM_DATABASE_URL_FILE": "/nonexistent/uri"}, "PIM_DATABASE_URL_FILE: cannot read"),
        ({"PIM_MODEL": "m", "PIM_DB": "d", "PIM_POOL_SIZE": "0"}, "PIM_POOL_SIZE"),
        ({"PIM_MODEL": "m", "PIM_DB": "d", "PIM_POOL_SIZE": "ten"}, "PIM_POOL_SIZE"),
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


def test_max_body_bytes_setting() -> None:
    base = {"PIM_MODEL": "m", "PIM_DB": "d"}
    assert parse_settings([], base).max_body_bytes == 1 << 20
    assert parse_settings([], {**base, "PIM_MAX_BODY_BYTES": "2048"}).max_body_bytes == 2048
    assert parse_settings(["--max-body-bytes", "10"], {**base, "PIM_MAX_BODY_BYTES": "2048"}).max_body_bytes == 10
    for bad in ("0", "-1", "1MiB", ""):
        with pytest.raises(SettingsError, match="max body bytes"):
            parse_settings([], {**base, "PIM_MAX_BODY_BYTES": bad})


def test_parse_body_reads_decimals_from_their_own_text() -> None:
    body = b'{"price": 19.90, "big": 1234567890123456789012345.1234567890123456789, "meta": [1.10]}'
    parsed = parse_body(body, decimal_fields={"price", "big"})
    assert parsed["price"] == Decimal("19.90")
    assert str(parsed["price"]) == "19.90"
    assert parsed["big"] == Decimal("1234567890123456789012345.1234567890123456789")
    assert parsed["meta"] == [1.1]  # not a decimal attribute: a float, parsed at C speed
    assert type(parse_body(b'{"price": 7}', decimal_fields={"price"})["price"]) is int


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        (b"\xff{}", ("body",), "json_invalid"),
        (b'{"a": }', ("body",), "json_invalid"),
        (b'{"a": 1, "deep": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", ("body", "deep"), "json_too_deep"),
        (b'{"a": 1, "n": 1' + b"0" * 5000 + b"}", ("body", "n"), "number_too_large"),
        (b'{"a": 1, "b": 2, "c": 3}', ("body",), "too_many_keys"),
    ],
)
def test_parse_body_refusals_name_the_field(body: bytes, loc: tuple, kind: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse_body(body, max_keys=2)
    assert (caught.value.loc, caught.value.kind) == (loc, kind)


def test_parse_body_marks_what_must_not_be_stored() -> None:
    parsed = parse_body(b'{"a": NaN, "b": "x\\ud800", "c": ["\\udc00"], "d": "\\ud83d\\ude00", "\\ud800": 1}')
    assert isinstance(parsed["a"], Refused)
    assert isinstance(parsed["b"], Refused)
    assert isinstance(parsed["c"], Refused)
    assert parsed["d"] == "\N{GRINNING FACE}"
    assert parsed["\\ud800"] == 1  # a key is made printable; validation then refuses it as unknown


def test_json_attribute_values_are_checked_for_depth_and_refusals() -> None:
    deep: object = 1
    for _ in range(MAX_JSON_DEPTH):
        deep = [deep]
    assert check_json_value(deep) == deep  # 32 levels of nesting are fine
    with pytest.raises(PydanticCustomError, match="deeper"):
        check_json_value([deep])
    assert check_json_value([[1, 2], {"a": [3]}]) == [[1, 2], {"a": [3]}]
    with pytest.raises(PydanticCustomError, match="NaN"):
        check_json_value({"x": [1, parse_body(b"[NaN]")[0]]})


def test_database_url_sources_in_order(tmp_path) -> None:
    secret = tmp_path / "uri"
    secret.write_text("postgresql://app:s3cr%40t@db-rw.shop.svc:5432/app\n")
    base = {"PIM_MODEL": "m", "PIM_DB": "/data/pim.db"}
    assert parse_settings([], base).database_url == "sqlite:////data/pim.db"
    from_file = {**base, "PIM_DATABASE_URL_FILE": str(secret)}
    assert parse_settings([], from_file).database_url == "postgresql://app:s3cr%40t@db-rw.shop.svc:5432/app"
    from_env = {**from_file, "PIM_DATABASE_URL": "postgres://u@h/d", "PIM_POOL_SIZE": "4"}
    assert parse_settings([], from_env).database_url == "postgres://u@h/d"
    assert parse_settings([], from_env).pool_size == 4
    assert parse_settings(["--db", "x.db"], from_env).database_url == "sqlite:///x.db"
    assert parse_settings(["--database-url", "sqlite:////abs.db", "--pool-size", "3"], from_env).pool_size == 3
    with pytest.raises(SettingsError, match="not both"):
        parse_settings(["--db", "x.db", "--database-url", "sqlite:///y.db"], base)


def test_database_urls_as_operators_secrets_hold_them() -> None:
    cnpg = parse("postgresql://app:p%40ss@orders-db-rw.shop:5432/app")
    assert (cnpg.kind, cnpg.dsn, cnpg.connect_timeout) == (
        "postgresql",
        "postgresql://app:p%40ss@orders-db-rw.shop:5432/app",
        5.0,
    )
    crunchy = parse("postgres://orders:x@orders-primary.shop.svc:5432/orders?sslmode=require&connect_timeout=10")
    assert crunchy.dsn == "postgresql://orders:x@orders-primary.shop.svc:5432/orders?sslmode=require"
    assert crunchy.connect_timeout == 10.0
    assert parse("postgresql://u:p@h1:5432,h2:5432/db?target_session_attrs=read-write&keepalives=1").dsn == (
        "postgresql://u:p@h1:5432,h2:5432/db?target_session_attrs=read-write"
    )
    assert parse("sqlite:///rel/x.db").path == "rel/x.db"
    assert parse("sqlite:////abs/x.db").path == "/abs/x.db"
    for bad in ("sqlite://", "sqlite:///", "x.db", "mysql://h/d", "postgresql://u:p@h/d?connect_timeout=soon"):
        with pytest.raises(DatabaseUrlError):
            parse(bad)


def test_passwords_never_show() -> None:
    assert (
        redact("postgresql://app:s3cr3t@h:5432/app?sslmode=require")
        == "postgresql://app:***@h:5432/app?sslmode=require"
    )
    assert redact("postgresql://app@h/app") == "postgresql://app@h/app"
    assert "s3cr3t" not in str(parse("postgresql://app:s3cr3t@h/app"))
    with pytest.raises(DatabaseUrlError) as err:
        parse("postgresql://app:s3cr3t@h/app?connect_timeout=x")
    assert "s3cr3t" not in str(err.value)


def test_a_composite_unique_is_one_unique_index_digesting_text_and_json_on_postgresql() -> None:
    attrs = tuple(Attribute(n, t) for n, t in (("n", "integer"), ("sku", "string"), ("meta", "json"), ("d", "decimal")))
    table = tables_for([Entity("Line", attrs, uniques=(("n", "sku"), ("sku", "meta", "d")))])["Line"]
    assert index_sqls(table) == [
        'CREATE UNIQUE INDEX IF NOT EXISTS "uqc__Line__n__sku" ON "Line" ("n", "sku")',
        'CREATE UNIQUE INDEX IF NOT EXISTS "uqc__Line__sku__meta__d" ON "Line" ("sku", "meta", "d")',
    ]
    assert postgres_schema.index_sqls(table) == [
        'CREATE UNIQUE INDEX IF NOT EXISTS "uqc__Line__n__sku" ON "Line" ("n", pim_digest("sku"))',
        'CREATE UNIQUE INDEX IF NOT EXISTS "uqc__Line__sku__meta__d" ON "Line" '
        '(pim_digest("sku"), pim_digest("meta"::text), "d")',
    ]
    fields = postgres_schema.composite_unique_fields({"Line": table})
    assert fields == {"uqc__Line__n__sku": ("n", "sku"), "uqc__Line__sku__meta__d": ("sku", "meta", "d")}
    long = tables_for([Entity("L" * 40, attrs, uniques=(("n", "sku"),))])
    [name] = postgres_schema.composite_unique_fields(long)
    assert len(name.encode()) <= postgres_schema.MAX_IDENTIFIER_BYTES
