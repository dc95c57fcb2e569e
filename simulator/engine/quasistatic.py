"""Quasistatic methods: every presentation solved at steady state (``T -> infinity``)."""

from __future__ import annotations

import numpy as np

from ..base import SimulationError, lazy_module
from ..costs import kernel_code
from ..network import Network
from ..quasistatic import LaplacianSolver, RefactoringLaplacian
from .method import Method

kernels = lazy_module("simulator.kernels")  # compiled code, loaded at first use: start-up stays short

__all__ = ["BANDED_MAX_FLOPS", "uses_banded", "banded_fits", "QuasistaticBanded", "QuasistaticDirect"]

# "auto" uses the banded solver while a factorisation costs at most this many flops
# (n * bw^2 / 2; the 12x12 Iris lattice: 26,000). Measured in benchmarks/bench_suite.py.
BANDED_MAX_FLOPS = 2e6


def uses_banded(network: Network, rule: str, method: str = "auto", compiled_cost: bool = True) -> bool:
    """Whether ``Quasistatic(solver_method=method)`` trains ``network`` with ``rule`` on the
    compiled banded path (``"auto"``: while a factorisation costs <= BANDED_MAX_FLOPS).
    ``compiled_cost``: the kernels compute the cost themselves (``costs.kernel_code``)."""
    if method == "banded":
        if rule != "chemical":
            raise ValueError(f"solver_method='banded' runs the chemical rule only, not {rule!r}")
        if not compiled_cost:
            raise ValueError("solver_method='banded' computes the costs it compiles (squared, huber, "
                             "softmax_cross_entropy); this one runs with solver_method='auto' or 'dense'")
        return True
    if method != "auto" or rule != "chemical" or not compiled_cost:
        return False
    return banded_fits(network)


def banded_fits(network: Network) -> bool:
    """Whether a banded factorisation of ``network``'s Laplacian costs at most BANDED_MAX_FLOPS."""
    _, bandwidth = network.topology.band_order(network.n_nodes)
    return network.n_nodes * bandwidth**2 / 2 <= BANDED_MAX_FLOPS


class QuasistaticBanded(Method):
    """The chemical rule, every presentation of the call in one compiled loop: the grounded
    Laplacian refactorised as a banded Cholesky (reverse Cuthill-McKee order, found once per
    topology), pressure and chemical solved from each factor."""

    name = "banded"

    def present_all(self, inputs, targets, log) -> None:
        network, setup = self.network, self.setup
        position, bandwidth = network.topology.band_order(network.n_nodes)
        currents = np.stack([network.node_currents(x) for x in inputs])
        w = network.conductance.copy()
        done = kernels.quasistatic_chemical_steps(
            network.topology.edges, w, position, bandwidth, currents, network.output_pairs[:, 0].astype(np.int32),
            network.output_pairs[:, 1].astype(np.int32), targets, setup.alpha, setup.eta, kernel_code(setup.cost),
            setup.cost.parameter, setup.physics.kappa, setup.w_min, log.outputs, log.floored, log.step_growth,
        )  # fmt: skip
        try:
            self.network, log.done = network.with_conductance(w), done
        except ValueError:  # the last update was not finite: only the starting network is known
            log.done = 0
        if done < len(inputs):
            raise SimulationError(
                f"presentation {done}: the grounded Laplacian lost positive definiteness (non-finite conductances?)"
            )


class QuasistaticDirect(Method):
    """Any rule: a factorisation per presentation (dense Cholesky below ``DENSE_MAX_NODES`` nodes;
    above, one sparse analysis per call, refactorised numerically per presentation), the
    pressure solved, the rule's update from it."""

    name = "direct"

    def __init__(self, setup, state):
        super().__init__(setup, state)
        method = setup.dynamics.solver_method
        self.method = LaplacianSolver.choose_method(setup.network.n_nodes) if method == "auto" else method
        sparse = self.method == "sparse"
        self.factor = RefactoringLaplacian(setup.network, setup.dynamics.sparse_backend) if sparse else None

    def present(self, k, inputs, targets):
        network, setup = self.network, self.setup
        if self.factor is None:
            solver = LaplacianSolver(network, self.method)
        else:  # the pattern never changes: refactorise numerically, reuse the analysis
            if k:
                self.factor.refactor(network.conductance)
            solver = self.factor
        v = solver.solve(network.node_currents(inputs))
        dw = setup.rule(network, v, targets, alpha=setup.alpha, eta=setup.eta, kappa=setup.physics.kappa,
                        solver=solver, cost=setup.cost, drift=setup.physics.drift)  # fmt: skip
        return network.outputs(v), self.remodel(dw), np.nan
