"""What each dynamics records in a run file, and the state it carries from one epoch of a
recorded run to the next: its own series, its checkpoint and the state restored from it.

A recorded run (:mod:`simulator.runs`) asks the dynamics' :class:`Recording`
(:func:`recording_of`) and never the dynamics' name. Adding a dynamics is one class here and
one registry line. Series are declared as :class:`simulator.schema.Series`, as the run file
writes them.
"""

from __future__ import annotations

import numpy as np

from ..advection import AdvectionState
from ..network import Network
from ..quasistatic import BOUNDARIES
from ..schema import Series
from .method import coupled_stable_dt
from .results import FieldState

__all__ = ["Recording", "RECORDINGS", "recording_of", "RELEASE_SERIES"]

RELEASE_SERIES = {
    "release_cost": "cost at each release",
    "grad_cosine": "cos(dW since the last release, -dC/dw there)",
    "released_mass": "chemical released so far (s+ and s-)",
    "drained_mass": "chemical drained so far",
    "in_network_mass": "chemical in the network",
}


class Recording:
    """What every dynamics answers; by default what the quasistatic model records: every
    field at steady state, so nothing is carried between presentations, and no clock but the
    presentations' and the epochs'.

    ``timed``: the run has a time axis (``T`` per presentation);
    ``updates_per_presentation``: pipe updates a presentation makes (the blow-up watch's unit).
    """

    timed = False

    def __init__(self, spec):
        self.spec = spec

    @property
    def updates_per_presentation(self) -> int:
        return self.spec.substeps

    @property
    def boundary(self) -> dict:
        """How inputs enter and outputs are read: the first of each of ``BOUNDARIES`` (current
        pairs, pair drops) unless the dynamics chooses (:class:`AdvectionRecording`)."""
        return {key: choices[0] for key, choices in BOUNDARIES.items()}

    def series(self, n: int, m: int, fields_every: int | None) -> list[Series]:
        """The dynamics' own series beside every run's (``n`` nodes, ``m`` pipes)."""
        return []

    def checkpoint_fields(self, n: int, m: int) -> dict[str, tuple[tuple, str]]:
        """``{name: (shape, dtype)}`` of the carried state, in the order the file holds them."""
        return {}

    def checkpoint(self, state, network: Network) -> dict:
        """The checkpoint row of ``state`` (None: at rest, the run has not started), by name."""
        return {}

    def restored(self, row: dict):
        """The carried state of a checkpoint row (a row written at rest restores to a state at
        rest, which ``train`` treats as no state yet); None where nothing is carried."""
        return None

    def field_steps_per_presentation(self, network: Network, derived: dict, integrator, physics) -> int:
        """About how many steps of the ``field`` clock a presentation takes (for the run's
        size estimate; ``derived``: what ``train``'s ``resolve`` derived, e.g. ``T``)."""
        return 0

    def extra_rows(self, presentations: int) -> dict[str, int]:
        """Rows of the dynamics' own clocks over ``presentations`` (for the size estimate)."""
        return {}


class TimeSteppedRecording(Recording):
    """The time-stepped model's: the pressure and chemical fields carried between
    presentations, each presentation's time step, and snapshots on the ``field`` clock."""

    timed = True
    _INTEGERS = ("explicit_step",)

    @property
    def updates_per_presentation(self) -> int:
        return 1

    def series(self, n, m, fields_every):
        found = [Series("observables/dt", (), "example", "time", "time step of the presentation")]
        if fields_every:
            found.append(Series("particles/nodes/pressure", (n,), "field", "pressure", "node pressures v"))
            found.append(Series("particles/nodes/concentration", (n,), "field", "concentration",
                                  "feedback chemical u"))  # fmt: skip
        return found

    def checkpoint_fields(self, n, m):
        return {"pressure": ((n,), "float64"), "concentration": ((n,), "float64"), "time": ((), "float64"),
                "explicit_step": ((), "int64")}  # fmt: skip

    def checkpoint(self, state, network):
        state = FieldState.at_rest(network) if state is None else state
        return {"pressure": state.v[None], "concentration": state.u[None], "time": [state.time],
                "explicit_step": [state.step]}  # fmt: skip

    def restored(self, row):
        return FieldState(np.array(row["pressure"]), np.array(row["concentration"]), float(row["time"]),
                          int(row["explicit_step"]))  # fmt: skip

    def field_steps_per_presentation(self, network, derived, integrator, physics):
        dt = integrator.dt or integrator.safety * coupled_stable_dt(physics, network, network.conductance)
        return max(1, round(derived["T"] / dt))


class AdvectionRecording(Recording):
    """Appendix A's mode: the s+/s- chemical, the running totals, the last release's
    conductances and gradient (and the relaxing pressures, with ``pressure_steps``) carried;
    every release recorded on its own clock; s+ and s- snapshots on the ``field`` clock."""

    @property
    def updates_per_presentation(self) -> int:
        return self.spec.transport_steps

    def series(self, n, m, fields_every):
        found = [Series(f"observables/{name}", (), "release", "", text) for name, text in RELEASE_SERIES.items()]
        if fields_every:
            found += [Series(f"particles/nodes/{name}", (n,), "field", "", f"{name} at the nodes") for name in
                      ("s_plus", "s_minus")]  # fmt: skip
        return found

    def checkpoint_fields(self, n, m):
        fields = {"s_plus": ((n,), "float64"), "s_minus": ((n,), "float64"), "released": ((), "float64"),
                  "drained": ((), "float64"), "transport_step": ((), "int64")}  # fmt: skip
        if self.spec.pressure_steps:
            fields["pressure"] = ((n,), "float64")
        fields["last_conductance"] = ((m,), "float64")
        fields["last_gradient"] = ((m,), "float64")
        return fields

    def checkpoint(self, state, network):
        state = AdvectionState.empty(network) if state is None else state
        missing = np.full(network.n_edges, np.nan)  # no release yet
        values = {
            "s_plus": state.s_plus[None], "s_minus": state.s_minus[None], "released": [state.released],
            "drained": [state.drained], "transport_step": [state.step],
            "last_conductance": [missing if state.last_conductance is None else state.last_conductance],
            "last_gradient": [missing if state.last_gradient is None else state.last_gradient],
        }  # fmt: skip
        if self.spec.pressure_steps:
            values["pressure"] = (np.zeros(network.n_nodes) if state.v is None else state.v)[None]
        return {name: values[name] for name in self.checkpoint_fields(network.n_nodes, network.n_edges)}

    def restored(self, row):
        last = row["last_conductance"]
        known = not np.all(np.isnan(last))
        return AdvectionState(
            np.array(row["s_plus"]), np.array(row["s_minus"]), float(row["released"]), float(row["drained"]),
            int(row["transport_step"]), np.array(row["pressure"]) if self.spec.pressure_steps else None,
            np.array(last) if known else None, np.array(row["last_gradient"]) if known else None,
        )  # fmt: skip

    @property
    def boundary(self) -> dict:
        return {key: getattr(self.spec, key) for key in BOUNDARIES}  # the appendix's setup may be chosen

    def field_steps_per_presentation(self, network, derived, integrator, physics):
        return self.spec.transport_steps

    def extra_rows(self, presentations):
        return {"release": presentations * self.spec.transport_steps // self.spec.release_every + presentations}


class QuasistaticRecording(Recording):
    """The quasistatic model's (:class:`Recording` as it is: nothing carried)."""


#: Each dynamics' recording, by the dynamics' registry name (``simulator.engine.DYNAMICS``).
RECORDINGS = {"quasistatic": QuasistaticRecording, "timestepped": TimeSteppedRecording,
              "advection": AdvectionRecording}  # fmt: skip


def recording_of(dynamics) -> Recording:
    """What ``dynamics`` (a resolved dynamics object of ``train``) records and carries."""
    return RECORDINGS[dynamics.name](dynamics)
