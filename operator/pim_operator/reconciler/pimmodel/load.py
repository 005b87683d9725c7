"""Load a PimModel's text with the engine's own loader: one schema, one source of truth.

Loading a large model is CPU work measured in seconds (thousands of attributes): reconcilers call
:func:`load_async`, which runs it off the event loop, so leases get renewed and watches read
meanwhile. A model whose snapshot cannot fit the ConfigMap every instance of it serves from is
refused here, naming its size, rather than failing later on each instance.

Hostile text gets an error naming it, never a hung or failing reconcile: YAML whose aliases expand
to more nodes than any model within the CRD's size limit has (a "billion laughs" document) is
refused before the loader walks it, nesting deeper than the loader can follow is reported as such,
and any other loader failure becomes the model's error (and a logged bug) instead of a retry loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import dataclass

import yaml

from pim_engine.loader import load_model_text
from pim_engine.model import Model, ModelError, canonical_json


@dataclass(frozen=True)
class Loaded:
    """The outcome of loading a model: exactly one of ``model`` and ``error`` is set."""

    model: Model | None = None
    error: str | None = None

    @property
    def snapshot(self) -> str:
        """The normalized model as canonical JSON: what instances serve."""
        if self.model is None:
            raise ValueError("an invalid model has no snapshot")
        return canonical_json(self.model.to_dict())


log = logging.getLogger(__name__)
#: Nodes a YAML model may become once its aliases are expanded: more than a text within the CRD's
#: 900 kB limit can hold without aliases.
MAX_YAML_NODES = 1_000_000
_ALIAS = re.compile(r"(?:^|[\s\[{,:-])\*[^\s,\[\]{}]+", re.MULTILINE)
#: Bytes of snapshot an instance's ConfigMap can hold: the API server's 1 MiB object limit, less
#: room for the ConfigMap's metadata (labels, owner reference, managedFields).
SNAPSHOT_LIMIT = 1024 * 1024 - 32 * 1024


@functools.lru_cache(maxsize=512)
def load(text: str, fmt: str, source: str) -> Loaded:
    """Memoized by text: a thousand instances of one model parse it once."""
    try:
        if fmt == "yaml" and _ALIAS.search(text) and (nodes := yaml_nodes(text)) > MAX_YAML_NODES:
            return Loaded(error=f"{source}: YAML aliases expand the model to {nodes} nodes (at most {MAX_YAML_NODES})")
        loaded = Loaded(model=load_model_text(text, fmt, source=source))  # type: ignore[arg-type]
    except ModelError as exc:
        return Loaded(error=str(exc))
    except RecursionError:
        return Loaded(error=f"{source}: the model nests deeper than the loader can follow")
    except Exception as exc:
        log.exception("the model loader failed", extra={"source": source})
        return Loaded(error=f"{source}: the loader failed ({type(exc).__name__}: {exc}); please report this bug")
    size = len(loaded.snapshot.encode())
    if size > SNAPSHOT_LIMIT:
        assert loaded.model is not None
        return Loaded(
            error=f"{source}: the normalized model ({len(loaded.model.entities)} entities) is {size} bytes; "
            f"an instance serves it from a ConfigMap, which holds at most {SNAPSHOT_LIMIT} bytes: split the model"
        )
    return loaded


def yaml_nodes(text: str) -> int:
    """How many nodes the YAML document becomes with its aliases expanded, counted on the composed
    graph (where an alias is one shared node), so a bomb is measured without being expanded.
    Syntax errors count 0: the loader reports them with their line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 0
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 0  # a recursive alias counts once
            children = node.value if isinstance(node, yaml.SequenceNode) else ()
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            sizes[id(node)] = 1 + sum(size(c) for c in children)
        return sizes[id(node)]

    return size(root) if root is not None else 0


async def load_async(text: str, fmt: str, source: str) -> Loaded:
    """:func:`load` in a worker thread: the event loop keeps running while a big model parses."""
    return await asyncio.to_thread(load, text, fmt, source)
