"""What a run file holds, declared below everything that writes or reads one: a time
series (:class:`Series`) and the groups that every layer names.

The run-file layer (:mod:`simulator.trajectory`) writes and reads what is declared here; the
engine (:mod:`simulator.engine.recording`) declares each dynamics' own series with it, so
that a series is described once, by the code that produces it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Series", "CHECKPOINT"]

#: Where a run keeps what ``resume`` needs beyond the conductances (recorded every epoch anyway).
CHECKPOINT = "observables/checkpoint/"


@dataclass(frozen=True)
class Series:
    """A time series to declare before the run starts (SWMR allows no new objects later).

    path : where it lives, e.g. ``"observables/cost"``
    shape : shape of one sample (``()`` for a scalar)
    clock : series that are sampled together share a clock (and their ``step``/``time``)
    unit : H5MD ``unit`` attribute of ``value`` (omitted if empty)
    description : what it is, stored as an attribute
    dtype : numpy dtype of ``value``
    """

    path: str
    shape: tuple = ()
    clock: str = "epoch"
    unit: str = ""
    description: str = ""
    dtype: str = "float64"
