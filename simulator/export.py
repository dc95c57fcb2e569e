"""A run file for ParaView and other XDMF readers: ``python -m simulator export FILE --xdmf``.

XDMF is an XML description of meshes and fields whose numbers stay in HDF5 files. The
export writes two small sidecars beside the run file and copies none of its data:

- ``<run>.xdmf``: a temporal collection, one grid per recorded frame (see
  :mod:`simulator.fields`): nodes as points (``XY``), pipes as two-node ``Polyline`` cells,
  node roles (``species``), the frame's node fields, and the conductances last recorded at
  or before the frame (``Cell``).
- ``<run>.xdmf.h5``: one HDF5 *virtual* dataset per frame and field, each mapping a row of
  the run file's series. XDMF's own way to name a row (a ``HyperSlab``) is not read by
  every XDMF reader (meshio's is one that does not); a virtual dataset is read by any HDF5
  reader, and holds no data, only the mapping.

The sidecars point at the run file by its path relative to them: keep them together. They
describe the frames recorded when they were written (export again after a run grows).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .fields import CONDUCTANCE, NODE_FIELDS, available_fields, recorded_field
from .outputs import OutputError, Replacement, check_not_source, check_target
from .trajectory import LIBVER, h5py, load_trajectory, verify

__all__ = ["export_xdmf"]


def export_xdmf(path, out=None, *, overwrite: bool = False) -> Path:
    """Write the XDMF sidecar of the run file ``path`` (default ``<run>.xdmf`` beside it) and
    its HDF5 companion ``<out>.h5``; return the XDMF file's path.

    Frames follow the run's node fields when it has frames of any (time-stepped and advection
    runs), else its conductance records (one per epoch); in a running or torn file, the
    samples complete on their clock. Each frame's ``Time`` is the series' time, or its step
    when the run records no time. Existing sidecars are replaced only with ``overwrite``; the
    run file itself never is.
    """
    run = load_trajectory(path)
    out = Path(path).with_suffix(".xdmf") if out is None else Path(out)
    if out.suffix.lower() not in (".xdmf", ".xmf"):
        raise OutputError(f"cannot write {out}: an XDMF file ends in .xdmf or .xmf")
    companion = out.with_name(out.name + ".h5")
    for target in (out, companion):
        check_target(target, overwrite)
        check_not_source(target, path)
    verify(path)
    fields = available_fields(run)
    if not fields:
        raise OutputError(f"{path} records no fields to export")
    node_fields = [recorded_field(run, f) for f in fields if f in NODE_FIELDS]
    frames = [f for f in node_fields if len(f)] or [recorded_field(run, "conductance")]
    frames = [f for f in frames if np.array_equal(f.steps, frames[0].steps)]  # one clock: the first field's
    if not len(frames[0]):
        going = " yet (the run is still going)" if run.status[0] == "running" else ""
        raise OutputError(f"{path} has no frames{going}")
    source = os.path.relpath(Path(path).resolve(), out.resolve().parent)
    rows = _virtual_rows(frames)
    document = _document(run, source, companion.name, frames, rows)
    with Replacement(companion, overwrite) as companion_scratch, Replacement(out, overwrite) as scratch:
        _write_virtual_rows(companion_scratch, run, source, rows)
        ET.ElementTree(document).write(scratch, encoding="utf-8", xml_declaration=True)
    return out


def _virtual_rows(frames: list) -> dict:
    """``{(series path, row): dataset name in the companion}`` for every row a frame shows."""
    wanted = {(f.path, row) for f in frames for row in range(len(frames[0]))}
    if frames[0].field != "conductance" and frames[0].conductance_rows is not None:
        wanted |= {(CONDUCTANCE, int(row)) for row in frames[0].conductance_rows}
    return {(series, row): f"{series.rsplit('/', 1)[-1]}/{row:06d}" for series, row in sorted(wanted)}


def _write_virtual_rows(path, run, source: str, rows: dict) -> None:
    """One virtual dataset per entry of ``rows``, mapping that row of the run file (``source``,
    relative to the companion's folder)."""
    with h5py.File(run.path, "r", libver="latest", swmr=True) as f, h5py.File(path, "w", libver=LIBVER) as sidecar:
        for (series, row), name in rows.items():
            values = f[series]["value"]
            layout = h5py.VirtualLayout(shape=values.shape[1:], dtype=values.dtype)
            # HDF5 reads a virtual source's file name as a printf pattern: a literal % is %%
            layout[...] = h5py.VirtualSource(source.replace("%", "%%"), f"{series}/value", shape=values.shape)[row]
            sidecar.create_virtual_dataset(name, layout, fillvalue=np.nan)


def _data_item(file: str, dataset: str, shape: tuple, dtype) -> ET.Element:
    """An XDMF ``DataItem`` naming ``dataset`` in the HDF5 ``file`` (a path relative to the XDMF file)."""
    kind = "Int" if np.issubdtype(dtype, np.integer) else "Float"
    item = ET.Element("DataItem", Dimensions=" ".join(map(str, shape)), NumberType=kind,
                      Precision=str(np.dtype(dtype).itemsize), Format="HDF")  # fmt: skip
    item.text = f"{file}:/{dataset}"
    return item


def _document(run, source: str, companion: str, frames: list, names: dict) -> ET.Element:
    """The XDMF tree: one uniform grid per frame of ``frames[0]``'s clock, each naming the run
    file's nodes, pipes and roles (``source``) and its rows in the companion (``names``)."""
    positions, edges = run.fixed("particles/nodes/position"), run.fixed("connectivity/edges")
    species = run.fixed("particles/nodes/species")
    n, m = len(positions), len(edges)
    root = ET.Element("Xdmf", Version="3.0")
    collection = ET.SubElement(ET.SubElement(root, "Domain"), "Grid", Name=Path(run.path).stem, GridType="Collection",
                               CollectionType="Temporal")  # fmt: skip
    clock = frames[0]
    for k in range(len(clock)):
        grid = ET.SubElement(collection, "Grid", Name=f"frame {k}", GridType="Uniform")
        ET.SubElement(grid, "Time", Value=repr(float(clock.times[k] if clock.times is not None else clock.steps[k])))
        topology = ET.SubElement(grid, "Topology", TopologyType="Polyline", NumberOfElements=str(m),
                                 NodesPerElement="2")  # fmt: skip
        topology.append(_data_item(source, "connectivity/edges", edges.shape, edges.dtype))
        ET.SubElement(grid, "Geometry", GeometryType="XY").append(
            _data_item(source, "particles/nodes/position", positions.shape, positions.dtype)
        )
        _attribute(grid, "species", "Node", _data_item(source, "particles/nodes/species", (n,), species.dtype))
        for f in frames:
            if f.field != "conductance":
                _attribute(grid, f.field, "Node", _data_item(companion, names[f.path, k], (n,), np.float64))
        row = k if clock.field == "conductance" else (None if clock.conductance_rows is None
                                                      else int(clock.conductance_rows[k]))  # fmt: skip
        if row is not None:
            _attribute(grid, "conductance", "Cell", _data_item(companion, names[CONDUCTANCE, row], (m,), np.float64))
    ET.indent(root)
    return root


def _attribute(grid: ET.Element, name: str, center: str, item: ET.Element) -> None:
    """A scalar field on the grid's nodes (``Node``) or pipes (``Cell``)."""
    ET.SubElement(grid, "Attribute", Name=name, AttributeType="Scalar", Center=center).append(item)
