"""The mutation operators: one entry each (name, parents shown, template, default weight).

A new operator is one ``Operator`` added to ``REGISTRY`` and its template in ``prompts/``: the config
gains its weight (``search.operators.<name>``), the prompts load its template and the controller
draws it. ``COPY_OPERATORS`` name what the population itself does (a program copied to another
island unchanged); no prompt asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operator:
    """A prompt operator.

    ``parents``: programs sampled from the island and shown; ``template``: the template's name in
    ``prompts/`` (``<template>.txt``; empty: the operator's name); ``versions``: the parents are shown
    as ``<entry>_v0``, ``_v1`` and the reply is asked for as ``_v2`` (FunSearch), instead of labelled
    blocks (EoH).
    """

    name: str
    parents: int
    weight: float
    description: str
    template: str = ""
    versions: bool = False

    @property
    def template_name(self) -> str:
        """Return the template's name (its file is ``<name>.txt`` in the prompt folder)."""
        return self.template or self.name


REGISTRY: tuple[Operator, ...] = (
    Operator("versioned", 2, 0.5, "FunSearch: show v0, v1, ask for v2", versions=True),
    Operator("e1", 2, 0.1, "EoH: a new idea, different from the parents"),
    Operator("e2", 2, 0.15, "EoH: combine two parents"),
    Operator("m1", 1, 0.15, "EoH: modify one parent"),
    Operator("m2", 1, 0.05, "EoH: tune one parent's parameters"),
    Operator("simplify", 1, 0.05, "shorten one parent, same behaviour"),
)
"""Every prompt operator, in the order the controller draws from (changing it changes seeded runs)."""

BY_NAME = {op.name: op for op in REGISTRY}
NAMES = tuple(BY_NAME)
COPY_OPERATORS = ("reset", "migrate")
"""Operators that copy a program to another island unchanged (its parent is the original)."""
