"""Pure builders: the PimModel and PimInstance that a v2 request stands for.

``config`` of ``POST /instances`` is where the v2 API is vague (a free-form object). Here its keys
are PimInstance spec fields, camelCase or snake_case (``replicas``, ``storage``, ``env`` as an
object or a list, ``log_level``...): they are applied, and the API server's schema and CEL rules
judge the values. Any other key is refused, naming it, rather than silently ignored.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from pim_console import names

API_VERSION = "pim.dev/v1alpha1"
SOURCE_MAX = 900_000  # the CRD's maxLength of spec.source
CONFIG_MAX = 64 * 1024
_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".md": "markdown", ".markdown": "markdown", ".json": "json"}
#: v2 looked for <name>.yaml, then .yml, then .md; JSON (normalized models) comes last.
_PREFERENCE = tuple(_FORMATS)
CONFIG_KEYS = (
    "replicas",
    "image",
    "imagePullPolicy",
    "serviceType",
    "nodePort",
    "resources",
    "env",
    "nodeSelector",
    "tolerations",
    "priorityClassName",
    "logLevel",
    "storage",
    "autoscaling",
    "suspend",
    "metrics",
    "allowDestructiveMigration",
)


class InvalidRequest(ValueError):
    """A request the console cannot turn into a custom resource; the message names the field."""


@dataclass(frozen=True)
class LibraryFile:
    """A model file in the library ConfigMap: ``user_management.yaml`` is model ``user_management``."""

    model_name: str
    key: str
    format: str


def library_files(data: Mapping[str, str]) -> dict[str, LibraryFile]:
    """The loadable models of a library ConfigMap's data; other keys are not model files."""
    out: dict[str, LibraryFile] = {}
    ranked = sorted(
        (k for k in data if PurePosixPath(k).suffix.lower() in _FORMATS),
        key=lambda k: (PurePosixPath(k).stem, _PREFERENCE.index(PurePosixPath(k).suffix.lower())),
    )
    for key in ranked:
        path = PurePosixPath(key)
        out.setdefault(path.stem, LibraryFile(path.stem, key, _FORMATS[path.suffix.lower()]))
    return out


def pim_model(
    namespace: str,
    model_name: str,
    *,
    source: str,
    fmt: str,
    source_file: str,
    library: str | None = None,
) -> dict[str, Any]:
    """A PimModel holding ``source`` inline; one too large for the CRD refers to its library key."""
    spec: dict[str, Any] = {"format": fmt}
    if len(source) <= SOURCE_MAX:
        spec["source"] = source
    elif library is not None:
        spec["configMapRef"] = {"name": library, "key": source_file}
    else:
        raise InvalidRequest(f"source: {len(source)} characters; a model given inline may have at most {SOURCE_MAX}")
    return {
        "apiVersion": API_VERSION,
        "kind": "PimModel",
        "metadata": {
            "name": names.model_name(model_name),
            "namespace": namespace,
            "labels": {names.CREATED_BY: names.CONSOLE},
            "annotations": {names.MODEL_NAME: model_name, names.SOURCE_FILE: source_file},
        },
        "spec": spec,
    }


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def config_to_spec(config: Mapping[str, Any]) -> dict[str, Any]:
    """The PimInstance spec fields a v2 ``config`` sets; InvalidRequest names any unknown key."""
    if len(json.dumps(config, default=str)) > CONFIG_MAX:
        raise InvalidRequest(f"config: larger than {CONFIG_MAX} bytes as JSON")
    spec: dict[str, Any] = {}
    unknown = []
    for key, value in config.items():
        field = _camel(str(key))
        if field not in CONFIG_KEYS:
            unknown.append(str(key))
            continue
        if field in spec:
            raise InvalidRequest(f"config: {key!r} is given twice (as {field!r} too)")
        if field == "env" and isinstance(value, Mapping):
            value = [{"name": str(k), "value": "" if v is None else str(v)} for k, v in value.items()]
        spec[field] = value
    if unknown:
        raise InvalidRequest(
            f"config: unknown setting(s) {', '.join(repr(k) for k in sorted(unknown))}; "
            f"config takes PimInstance spec fields: {', '.join(CONFIG_KEYS)}"
        )
    return spec


def pim_instance(
    namespace: str,
    instance_id: str,
    *,
    model: Mapping[str, Any],
    port: int,
    config: Mapping[str, Any] | None,
    defaults: Mapping[str, Any],
) -> dict[str, Any]:
    """The PimInstance for ``POST /instances``: ``defaults`` (the console's settings) under ``config``.

    A field that ``config`` names replaces the default whole (``storage: {type: Ephemeral}`` is not
    merged with a default persistent size), and defaults are not second-guessed: ``replicas: 3`` over
    a persistent default is refused by the CRD's rule, in its words, until ``storage`` says otherwise.
    """
    spec = {**copy.deepcopy(dict(defaults)), **config_to_spec(config or {})}
    spec["modelRef"] = {"name": model["metadata"]["name"]}
    spec["port"] = port
    annotations = {
        names.INSTANCE_ID: instance_id,
        names.MODEL_NAME: names.original(model, names.MODEL_NAME),
    }
    if config:
        annotations[names.CONFIG] = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return {
        "apiVersion": API_VERSION,
        "kind": "PimInstance",
        "metadata": {
            "name": names.instance_name(instance_id),
            "namespace": namespace,
            "labels": {names.CREATED_BY: names.CONSOLE},
            "annotations": annotations,
        },
        "spec": spec,
    }
