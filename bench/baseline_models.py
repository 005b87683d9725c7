"""The request and response models of the hand-written baselines (``baseline_app.py``, ``baseline_pg_app.py``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field


class ItemIn(BaseModel):
    name: str = Field(max_length=100)
    quantity: int
    price: Decimal
    active: bool = True


class ItemOut(ItemIn):
    id: int


class ItemPage(BaseModel):
    items: list[ItemOut]
    total: int
    skip: int
    limit: int
