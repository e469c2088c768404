"""The trial config as typed objects: arms with roles, visits, populations, derived parameters, the plan.

``load_trial`` turns a schema-valid trial config (a dict read from YAML) into a ``Trial``; the
stages take it instead of raw dicts, so a key is spelt once and an arm's role is never guessed
from its position in a list. No pandas: the Snakefile's parse-time checks use this module too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

CONTROL, ACTIVE = "control", "active"


class PlanError(ValueError):
    """The trial config cannot be read as a plan; the message names the key."""


@dataclass(frozen=True)
class Arm:
    name: str  # ARM as the analyses print it ("UC-MSC")
    code: str  # ARMCD
    role: str  # CONTROL or ACTIVE
    dose: float | None = None  # position in a dose order, for trend tests across arms

    @property
    def is_control(self) -> bool:
        return self.role == CONTROL


@dataclass(frozen=True)
class Contrast:
    """One comparison of an active arm with the control arm: estimates are active minus control."""

    active: Arm
    control: Arm

    @property
    def levels(self) -> tuple[str, str]:
        return self.active.name, self.control.name


@dataclass(frozen=True)
class Visit:
    visitnum: int
    avisit: str
    day: int
    window: int


@dataclass(frozen=True)
class Trial:
    """One trial's config. ``raw`` keeps the validated dict for the sections not yet typed."""

    trial: str
    studyid: str
    title: str
    arms: tuple[Arm, ...]
    visits: tuple[Visit, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def control(self) -> Arm:
        return next(a for a in self.arms if a.is_control)

    @property
    def actives(self) -> tuple[Arm, ...]:
        return tuple(a for a in self.arms if not a.is_control)

    @property
    def contrasts(self) -> tuple[Contrast, ...]:
        """Each active arm against the control arm, in the config's order of the active arms."""
        return tuple(Contrast(active, self.control) for active in self.actives)

    @property
    def arm_names(self) -> tuple[str, ...]:
        """Arms in display order: the active arms as configured, then the control arm."""
        return tuple(a.name for a in self.actives) + (self.control.name,)

    def visit(self, visitnum: int) -> Visit:
        return next(v for v in self.visits if v.visitnum == visitnum)

    @property
    def analysis(self) -> Mapping[str, Any]:
        return self.raw.get("analysis", {})


def arm_problems(arms: list[dict]) -> list[str]:
    """One control arm, at least one active arm, unique names and codes; dose orders, if given, for every arm."""
    problems = []
    controls = [a["arm"] for a in arms if a.get("role") == CONTROL]
    if len(controls) != 1:
        problems.append(f"arms: exactly one arm must have role: control (found {len(controls)}: {', '.join(controls) or 'none'})")
    if not any(a.get("role") == ACTIVE for a in arms):
        problems.append("arms: at least one arm must have role: active")
    for key in ("arm", "armcd"):
        first: dict[str, int] = {}
        for i, arm in enumerate(arms):
            if arm[key] in first:
                problems.append(f"arms[{i}].{key}: {arm[key]!r} is already the {key} of arms[{first[arm[key]]}]")
            first.setdefault(arm[key], i)
    doses = [a.get("dose") for a in arms]
    if any(d is not None for d in doses) and any(d is None for d in doses):
        problems.append("arms: a dose order is given for some arms but not all (a trend test needs every arm's)")
    return problems


def load_trial(config: Mapping[str, Any]) -> Trial:
    """The typed trial from a schema-valid trial config; PlanError names what is inconsistent."""
    problems = arm_problems(list(config["arms"]))
    if problems:
        raise PlanError("; ".join(problems))
    arms = tuple(Arm(a["arm"], a["armcd"], a["role"], a.get("dose")) for a in config["arms"])
    visits = tuple(Visit(int(v["visitnum"]), v["avisit"], int(v["day"]), int(v["window"])) for v in config["visits"])
    return Trial(trial=config.get("trial", ""), studyid=config.get("studyid", ""), title=config.get("title", ""),
                 arms=arms, visits=visits, raw=MappingProxyType(dict(config)))
