"""What each dynamics records and carries in a run (simulator/engine/recording.py): a
checkpoint restores the state it was made of, bit for bit, in the shapes it declares."""

import numpy as np
import pytest

import simulator
from simulator.advection import AdvectionState
from simulator.engine import DYNAMICS, FieldState
from simulator.engine.recording import RECORDINGS, recording_of

NET = simulator.lattice_network(side=4, d=4, seed=0)
N, M = NET.n_nodes, NET.n_edges
RNG = np.random.default_rng(7)

STATES = {
    "quasistatic": (simulator.Quasistatic(), None),
    "timestepped": (simulator.TimeStepped(T=2.0), FieldState(RNG.normal(size=N), RNG.normal(size=N), 3.25, 812)),
    "advection": (simulator.Advection(), AdvectionState(RNG.random(N), RNG.random(N), 1.5, 0.25, 40, None,
                                                        RNG.random(M), RNG.normal(size=M))),
    "advection, relaxing pressures": (simulator.Advection(pressure_steps=3), AdvectionState(
        RNG.random(N), RNG.random(N), 2.5, 0.5, 60, RNG.normal(size=N), RNG.random(M), RNG.normal(size=M))),
    "advection, before its first release": (simulator.Advection(), AdvectionState(RNG.random(N), RNG.random(N))),
}  # fmt: skip


def test_every_dynamics_has_a_recording():
    assert set(RECORDINGS) == set(DYNAMICS)


@pytest.mark.parametrize("case", STATES)
def test_a_checkpoint_restores_its_state_bit_for_bit(case):
    spec, state = STATES[case]
    recording = recording_of(spec)
    row = {name: np.asarray(value)[0] for name, value in recording.checkpoint(state, NET).items()}
    fields = recording.checkpoint_fields(N, M)
    assert list(row) == list(fields)  # the order the file declares them in
    for name, (shape, dtype) in fields.items():
        assert row[name].shape == shape and np.asarray(row[name]).astype(dtype).tobytes() == row[name].tobytes()
    restored = recording.restored(row)
    if state is None:
        assert restored is None
        return
    for name, value in vars(state).items():
        again = getattr(restored, name)
        if value is None:
            assert again is None, name
        else:
            assert np.asarray(again).tobytes() == np.asarray(value).tobytes(), name


@pytest.mark.parametrize("name", DYNAMICS)
def test_a_run_at_rest_restores_to_a_state_at_rest(name):
    """Epoch 0's checkpoint (nothing has run) restores to what a fresh run starts from."""
    spec, _ = STATES[name]
    recording = recording_of(spec)
    row = {key: np.asarray(value)[0] for key, value in recording.checkpoint(None, NET).items()}
    restored = recording.restored(row)
    if name == "quasistatic":
        assert restored is None
    elif name == "timestepped":
        assert not restored.v.any() and not restored.u.any() and restored.time == 0.0 and restored.step == 0
    else:
        assert not restored.s_plus.any() and restored.step == 0 and restored.last_conductance is None


def test_what_a_presentation_updates_and_how_inputs_enter():
    assert recording_of(simulator.Quasistatic(substeps=4)).updates_per_presentation == 4
    assert recording_of(simulator.Advection(transport_steps=7)).updates_per_presentation == 7
    assert recording_of(simulator.TimeStepped(T=1.0)).updates_per_presentation == 1
    assert recording_of(simulator.Quasistatic()).boundary == {"inputs_as": "currents", "outputs_as": "pairs"}
    appendix = simulator.Advection(inputs_as="pressures", outputs_as="nodes")
    assert recording_of(appendix).boundary == {"inputs_as": "pressures", "outputs_as": "nodes"}
