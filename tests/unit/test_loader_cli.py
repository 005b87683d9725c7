"""``pim-engine validate`` and the normalized JSON form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pim_engine.loader import load_model, load_model_text, model_from_dict, validate_command
from pim_engine.model import ModelError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "engine" / "fixtures" / "models"


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "garden_shop.yaml"
    assert validate_command(str(path), False) == 0
    out, err = capsys.readouterr()
    digest = load_model(path).digest
    assert out == f"ok: garden-shop 2.1.0 {digest} (3 entities: Supplier, Plant, GardenOrder)\n"
    assert err == ""


def test_json_output_loads_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = FIXTURES / "苗圃管理.md"
    assert validate_command(str(path), True) == 0
    out, _ = capsys.readouterr()
    data = json.loads(out)
    model = load_model(path)
    assert data == model.to_dict()
    assert "苗床" in out  # not escaped
    saved = tmp_path / "model.json"
    saved.write_text(out, encoding="utf-8")
    assert load_model(saved) == model
    assert load_model(saved).digest == data["digest"]


def test_error_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("domain: d\nentities:\n  - name: A\n    attributes:\n      x: {type: strange}\n")
    assert validate_command(str(path), False) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: {path}:5: entity A: attribute x: unknown type 'strange'")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert validate_command(str(tmp_path / "none.md"), True) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_model_from_dict_is_the_inverse_of_to_dict() -> None:
    model = load_model(FIXTURES / "observatory.md")
    assert model_from_dict(model.to_dict()) == model
    assert model_from_dict(json.loads(json.dumps(model.to_dict()))).digest == model.digest


def test_model_from_dict_validates() -> None:
    data = load_model(FIXTURES / "garden_shop.yaml").to_dict()
    data["entities"][1]["attributes"][3]["default"] = "winter"
    with pytest.raises(ModelError, match="entity Plant: attribute season: default 'winter' is not one of"):
        model_from_dict(data)
    data = load_model(FIXTURES / "garden_shop.yaml").to_dict()
    data["entities"][1]["attributes"][1]["type"] = "str"
    with pytest.raises(ModelError, match="unknown type 'str'"):
        model_from_dict(data)
    data = load_model(FIXTURES / "garden_shop.yaml").to_dict()
    data["description"] = "changed"
    with pytest.raises(ModelError, match="does not match"):
        model_from_dict(data)
    with pytest.raises(ModelError, match="must be a JSON object"):
        model_from_dict([])  # type: ignore[arg-type]


def test_json_syntax_error_names_the_line() -> None:
    with pytest.raises(ModelError) as caught:
        load_model_text('{\n  "domain": "d",\n  oops\n}', "json", source="m.json")
    assert (caught.value.source, caught.value.line) == ("m.json", 3)
