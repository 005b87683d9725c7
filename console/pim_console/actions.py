"""What the v2 verbs do to the custom resources; HTTP-free, so the API and the UI share them.

Failures are ``Problem``s with the status code and message the client gets. Codes: 400 for a
request about a model that is not loaded or does not load (as v2 answered), 404 for an unknown id,
409 for a clash (already loaded or existing, a port or name held by another instance, data that a
stop would lose), 422 for a value the console or the API server's schema refuses (with its words).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from typing import Any

import httpx

from pim_console import builders, names, ports, shapes
from pim_console.kube.client import ApiError, path
from pim_console.proxy import Unavailable, service_base
from pim_console.runtime import Console
from pim_console.store import parse_source

MODELS = ("pim.dev/v1alpha1", "pimmodels")
INSTANCES = ("pim.dev/v1alpha1", "piminstances")


class Problem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


def from_api(exc: ApiError, what: str) -> Problem:
    """The API server's refusal in the console's words, keeping its message (CEL rules included)."""
    if exc.status in (400, 422):
        return Problem(422, f"{what}: {exc.message}")
    if exc.status == 409:
        return Problem(409, f"{what}: {exc.message}")
    if exc.status == 403:
        return Problem(403, f"{what}: the console's ServiceAccount is not allowed: {exc.message}")
    if exc.status == 404:
        return Problem(404, f"{what}: {exc.message}")
    return Problem(502, f"{what}: the API server answered {exc.status} {exc.reason}: {exc.message}")


def _check(value: str, what: str) -> str:
    try:
        return names.check_id(value, what)
    except names.InvalidId as exc:
        raise Problem(422, str(exc)) from None


# --- models ---


def library(console: Console) -> list[dict[str, Any]]:
    files = builders.library_files(console.store.library_data())
    out = []
    for f in files.values():
        loaded = console.find_model(f.model_name)
        out.append(
            {
                "name": f.model_name,
                "file": f.key,
                "format": f.format,
                "loaded": loaded is not None,
                "kubernetes_name": loaded["metadata"]["name"] if loaded else names.model_name(f.model_name),
            }
        )
    return out


def model_info(console: Console, model: Mapping[str, Any]) -> dict[str, Any]:
    parsed = console.store.parsed(model)
    using = console.store.instances_of(model["metadata"]["name"])
    return shapes.model_info(model, parsed.model if parsed else None, using)


async def load_model(console: Console, model_name: str, source: str | None = None, fmt: str | None = None) -> dict:
    _check(model_name, "model_name")
    existing = console.find_model(model_name)
    if existing is not None:
        raise Problem(
            409,
            f"Model '{model_name}' is already loaded (PimModel {existing['metadata']['name']}, "
            f"as '{names.original(existing, names.MODEL_NAME)}')",
        )
    data = console.store.library_data()
    if source is None:
        files = builders.library_files(data)
        found = files.get(model_name)
        if found is None:
            where = f"library ConfigMap {console.settings.library}" if console.settings.library else "the library"
            have = ", ".join(sorted(files)) or "none"
            raise Problem(404, f"Model file not found for '{model_name}' in {where} (models there: {have})")
        source, fmt, source_file = data[found.key], found.format, found.key
    else:
        fmt = fmt or "yaml"
        source_file = f"{model_name} (uploaded)"
    parsed = parse_source(source, fmt, source_file)
    if parsed.model is None:
        raise Problem(400, f"Failed to load model: {parsed.error}")
    try:
        body = builders.pim_model(
            console.namespace,
            model_name,
            source=source,
            fmt=fmt,
            source_file=source_file,
            library=console.settings.library,
        )
    except builders.InvalidRequest as exc:
        raise Problem(422, str(exc)) from None
    try:
        created = await console.client.create(path(*MODELS, console.namespace), body)
    except ApiError as exc:
        if exc.status == 409:
            raise Problem(
                409, f"Model '{model_name}' maps to PimModel {body['metadata']['name']}, which exists"
            ) from None
        raise from_api(exc, f"PimModel {body['metadata']['name']}") from None
    return shapes.model_info(created, parsed.model, [])


async def unload_model(console: Console, model_name: str, hard: bool) -> dict[str, Any]:
    model = console.find_model(model_name)
    if model is None:
        raise Problem(404, f"Model '{model_name}' not found")
    using = console.store.instances_of(model["metadata"]["name"])
    if not hard:
        losing = [names.original(i, names.INSTANCE_ID) for i in using if not shapes.keeps_data(i)]
        if losing:
            raise Problem(
                409,
                f"Model '{model_name}' is used by instance(s) {', '.join(repr(x) for x in losing)} whose data "
                "would be lost when stopped (not on a retained persistent volume); suspend them, or pass "
                "?hard=true to delete them with their data",
            )
    for instance in using:
        await _delete_instance(console, instance, hard)
    try:
        await console.client.delete(path(*MODELS, console.namespace, model["metadata"]["name"]))
    except ApiError as exc:
        raise from_api(exc, f"PimModel {model['metadata']['name']}") from None
    return {
        "message": f"Model '{model_name}' {'hard ' if hard else ''}unloaded successfully",
        "instances_stopped": len(using),
        "hard_delete": hard,
    }


# --- instances ---


def instance_info(console: Console, instance: Mapping[str, Any]) -> dict[str, Any]:
    return shapes.instance_info(instance, console.store.models)


def get_instance(console: Console, instance_id: str) -> dict[str, Any]:
    found = console.find_instance(instance_id)
    if found is None:
        raise Problem(404, f"Instance '{instance_id}' not found")
    return found


async def create_instance(
    console: Console,
    model_name: str,
    instance_id: str | None,
    port: int | None,
    config: Mapping[str, Any] | None,
    *,
    wait: bool = True,
) -> tuple[int, dict[str, Any]]:
    """Create the PimInstance; with ``wait``, answer once it serves (v2 did), else at once (202)."""
    model = console.find_model(_check(model_name, "model_name"))
    if model is None:
        raise Problem(400, f"Model '{model_name}' not loaded")
    instance_id = _check(
        instance_id if instance_id is not None else f"{model_name}_{secrets.token_hex(4)}", "instance_id"
    )
    name = names.instance_name(instance_id)
    s = console.settings
    if port is not None and not 1024 <= port <= 65535:
        raise Problem(422, f"port {port}: must be 1024-65535 (instances run unprivileged)")
    async with console.create_lock:
        existing = console.store.instances.get(name)
        if existing is not None:
            holder = names.original(existing, names.INSTANCE_ID)
            if holder == instance_id:
                raise Problem(409, f"Instance '{instance_id}' already exists")
            raise Problem(
                409, f"Instance id '{instance_id}' maps to the Kubernetes name {name}, which instance '{holder}' uses"
            )
        try:
            chosen = ports.choose(port, console.store.instances.values(), s.reserved_ports(), s.port_first, s.port_last)
        except ports.PortUnavailable as exc:
            raise Problem(409, str(exc)) from None
        try:
            body = builders.pim_instance(
                console.namespace, instance_id, model=model, port=chosen, config=config, defaults=s.instance_defaults
            )
        except builders.InvalidRequest as exc:
            raise Problem(422, str(exc)) from None
        url = path(*INSTANCES, console.namespace)
        try:
            created = await console.client.create(url, body)
        except ApiError as exc:
            if exc.status == 409:
                raise Problem(409, f"Instance '{instance_id}' already exists (PimInstance {name})") from None
            raise from_api(exc, f"PimInstance {name}") from None
        # Another writer (a second console, kubectl) may have claimed the port meanwhile: earliest wins.
        fresh = await console.client.list(url)
        winner = ports.lost_race(created, fresh.get("items") or ())
        if winner is not None:
            await console.client.delete(path(*INSTANCES, console.namespace, name))
            raise Problem(409, f"port {chosen} is already used by instance '{winner.instance_id}'")
    if not wait:
        return 202, shapes.instance_info(created, console.store.models)
    return await _await_serving(console, instance_id, created)


def _settled(console: Console, name: str) -> dict[str, Any] | None:
    obj = console.store.instances.get(name)
    if obj is None:
        return None
    conds = shapes.conditions(obj)
    gen = obj["metadata"].get("generation")
    if (obj.get("status") or {}).get("observedGeneration") != gen:
        return None
    if (conds.get("Ready") or {}).get("status") == "True":
        return obj
    if (conds.get("Degraded") or {}).get("status") == "True" or (conds.get("ModelResolved") or {}).get(
        "status"
    ) == "False":
        return obj
    return None


async def _await_serving(console: Console, instance_id: str, created: Mapping[str, Any]) -> tuple[int, dict]:
    name = created["metadata"]["name"]
    timeout = console.settings.create_timeout
    settled = await console.store.wait_for(lambda: _settled(console, name), timeout)
    obj = settled or console.store.instances.get(name) or dict(created)
    running = settled is not None and shapes.instance_status(settled) == "running"
    if running and await _reachable(console, settled, timeout=min(30.0, timeout)):
        if console.listeners is not None:
            await console.listeners.ensure(int(settled["spec"].get("port") or 8000))
        return 200, shapes.instance_info(console.store.instances.get(name) or settled, console.store.models)
    return 202, shapes.instance_info(obj, console.store.models)


async def _reachable(console: Console, instance: Mapping[str, Any], timeout: float) -> bool:
    """v2 answered once the process passed a health check: here, through the Service."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            base = service_base(
                console.store.service_of(instance["metadata"]["name"]), int(instance["spec"].get("port") or 8000)
            )
            code, _ = await console.proxy.get_json(base + "/health", 2.0)
            if code == 200:
                return True
        except (Unavailable, httpx.HTTPError):
            pass  # not reachable yet
        await asyncio.sleep(0.25)
    return False


async def stop_instance(console: Console, instance_id: str, hard: bool) -> dict[str, Any]:
    instance = get_instance(console, instance_id)
    if not hard and not shapes.keeps_data(instance):
        raise Problem(
            409,
            f"Instance '{instance_id}' keeps its data in an emptyDir, which stopping it would lose; "
            f'suspend it instead (PATCH /instances/{instance_id} {{"suspend": true}}), or pass ?hard=true',
        )
    gone = await _delete_instance(console, instance, hard)
    message = f"Instance '{instance_id}' {'hard ' if hard else ''}stopped successfully"
    if not gone:
        message = f"Instance '{instance_id}' is stopping"
    return {"message": message, "data_kept": not hard and shapes.keeps_data(instance)}


async def _delete_instance(console: Console, instance: Mapping[str, Any], hard: bool) -> bool:
    """Delete in the foreground (children first) and wait until it is gone; True when it is."""
    name = instance["metadata"]["name"]
    try:
        await console.client.delete(path(*INSTANCES, console.namespace, name), propagation="Foreground")
    except ApiError as exc:
        raise from_api(exc, f"PimInstance {name}") from None
    gone = await console.store.wait_for(
        lambda: name not in console.store.instances or None, console.settings.delete_timeout
    )
    if hard:
        pvc = await console.client.get(path("v1", "persistentvolumeclaims", console.namespace, f"{name}-data"))
        if pvc is not None and (pvc["metadata"].get("labels") or {}).get(names.INSTANCE_LABEL) == name:
            try:
                await console.client.delete(path("v1", "persistentvolumeclaims", console.namespace, f"{name}-data"))
            except ApiError as exc:
                raise from_api(exc, f"PersistentVolumeClaim {name}-data") from None
    return bool(gone)


async def patch_instance(console: Console, instance_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    instance = get_instance(console, instance_id)
    name = instance["metadata"]["name"]
    try:
        patched = await console.client.merge_patch(path(*INSTANCES, console.namespace, name), {"spec": dict(changes)})
    except ApiError as exc:
        raise from_api(exc, f"PimInstance {name}") from None
    if patched is None:
        raise Problem(404, f"Instance '{instance_id}' not found")
    return shapes.instance_info(patched, console.store.models)
