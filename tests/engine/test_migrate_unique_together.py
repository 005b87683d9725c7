"""Composite unique constraints across model changes, on each backend's real database.

Adding one over rows that hold duplicates is refused (even with --allow-destructive-migration:
no flag makes duplicates unique) naming the entity, the attributes and an example, and leaves the
database untouched; on clean data it applies; dropping one applies.
"""

from __future__ import annotations

from pathlib import Path

from backends import Backend
from engine_harness import Engine, write_model

V1 = """\
domain: cart
version: 1.0.0
entities:
  - name: Line
    attributes: {customer: integer, sku: string, code: {type: string, required: false},
                 note: {type: text, required: false}, options: {type: json, required: false}}
"""
PAIR = V1.replace("1.0.0", "2.0.0") + "    unique_together:\n      - [customer, sku]\n"
TRIPLE = V1.replace("1.0.0", "3.0.0") + "    indexes:\n      - {fields: [sku, note, options], unique: true}\n"
LONG = "n" * 4000  # past a PostgreSQL B-tree entry (2.7 kB) if the index held it whole


def seed(engine: Engine, rows: list[dict]) -> None:
    with engine.client() as api:
        for row in rows:
            response = api.post("/api/v1/lines", json=row)
            assert response.status_code == 201, response.text


def test_a_composite_unique_over_duplicates_is_refused_and_the_database_untouched(
    tmp_path: Path, database: Backend
) -> None:
    with Engine(write_model(tmp_path, "v1.yaml", V1), database) as first:
        seed(
            first,
            [
                {"customer": 1, "sku": "A"},
                {"customer": 1, "sku": "A"},
                {"customer": 1, "sku": "B"},
                {"customer": 2, "sku": "A"},
            ],
        )
    before = database.digest()
    model = write_model(tmp_path, "v2.yaml", PAIR)
    for flags in ((), ("--allow-destructive-migration",)):
        refused = Engine(model, database, *flags).run()
        assert refused.returncode == 2, refused.stderr
        message = refused.stderr.strip()
        assert "Traceback" not in message
        assert (
            "Line: unique (customer, sku) added but 2 rows hold duplicate combinations of customer, sku, "
            "e.g. customer=1, sku=A in 2 rows; remove them first"
        ) in message
        assert "--allow-destructive-migration" not in message  # no flag gets past duplicates
        assert database.digest() == before


def test_a_composite_unique_on_clean_data_applies_and_dropping_it_applies(tmp_path: Path, database: Backend) -> None:
    with Engine(write_model(tmp_path, "v1.yaml", V1), database) as first:
        # NULLs never clash: three rows share (sku, note) with no options
        seed(first, [{"customer": n, "sku": "A", "note": LONG} for n in range(3)])
        seed(first, [{"customer": 9, "sku": "A", "note": LONG, "options": {"k": [1]}}])
    with Engine(write_model(tmp_path, "v3.yaml", TRIPLE), database) as second, second.client() as api:
        clash = api.post("/api/v1/lines", json={"customer": 10, "sku": "A", "note": LONG, "options": {"k": [1]}})
        assert clash.status_code == 409, clash.text
        assert clash.json()["detail"][0]["msg"] == "a Line with this sku and note and options already exists"
        other = api.post("/api/v1/lines", json={"customer": 10, "sku": "A", "note": LONG, "options": {"k": [2]}})
        assert other.status_code == 201, other.text
    assert database.indexes("Line")["uqc__Line__sku__note__options"] == ["sku", "note", "options"]
    if database.name == "postgresql":  # digests, so the 4000-character notes fit a B-tree entry
        sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'uqc__Line__sku__note__options'"
        [definition] = database.column(sql)
        assert "(pim_digest(sku), pim_digest(note), pim_digest((options)::text))" in definition
    assert database.rows("Line") == 5
    dropped = V1.replace("1.0.0", "4.0.0")
    with Engine(write_model(tmp_path, "v4.yaml", dropped), database) as third, third.client() as api:
        again = api.post("/api/v1/lines", json={"customer": 10, "sku": "A", "note": LONG, "options": {"k": [1]}})
        assert again.status_code == 201, again.text
    assert "uqc__Line__sku__note__options" not in database.indexes("Line")


def test_a_composite_unique_survives_a_retype_of_one_of_its_attributes(tmp_path: Path, database: Backend) -> None:
    """PostgreSQL indexes text by its digest: a column that becomes a number gets a plain index column."""
    with_code = V1 + "    unique_together:\n      - [customer, code]\n"
    with Engine(write_model(tmp_path, "v1.yaml", with_code), database) as first:
        seed(first, [{"customer": 1, "sku": "A", "code": "7"}, {"customer": 1, "sku": "A", "code": "8"}])
    numbered = with_code.replace("1.0.0", "2.0.0").replace("code: {type: string", "code: {type: integer")
    model = write_model(tmp_path, "v2.yaml", numbered)
    with Engine(model, database, "--allow-destructive-migration") as second, second.client() as api:
        assert api.post("/api/v1/lines", json={"customer": 1, "sku": "B", "code": 8}).status_code == 409
        assert api.post("/api/v1/lines", json={"customer": 1, "sku": "B", "code": 9}).status_code == 201
    assert database.indexes("Line")["uqc__Line__customer__code"] == ["customer", "code"]
