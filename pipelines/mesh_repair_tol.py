"""Every tolerance and threshold the mesh repair uses, in one place (cf. ``trimesh.constants.tol``).

Lengths are fractions of the bounding-box diagonal of the mesh being repaired, so results do not
change when a part is scaled; areas are fractions of the total surface area.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RepairTol:
    """Thresholds of the repair pipeline (see each field)."""

    # coverage: a point of the original surface is covered when the repaired surface is this close
    coverage_distance: float = 0.01
    # coverage a shell's repair may lose before it falls back to the cheaper result
    coverage_loss: float = 0.01
    coverage_loss_aggressive: float = 0.05
    # sample counts for coverage: points on the original, cap of dense samples on the repaired
    coverage_samples: int = 20_000
    coverage_dense_cap: int = 400_000
    coverage_exact_cap: int = 3_000
    # stitching: open boundary vertices closer than this are welded together
    stitch_distance: float = 1e-5
    # an open shell whose thickness (smallest extent) is below this is a zero-volume sheet
    flat_thickness: float = 1e-6
    # an open shell with one boundary loop whose fan area is at least this share of its own
    # surface is a deliberate, gently curved sheet (a panel), not a solid with a hole
    open_hole_area_ratio: float = 0.95
    # an open piece the closed pieces cover but for this share of its area is a redundant copy
    covered_loss: float = 0.001
    # ... checked on this many points (a piece 1 % uncovered passes unseen with odds 0.99**1000)
    covered_samples: int = 1_000
    covered_dense_cap: int = 100_000
    # the second reading of duplicates and walls is kept when it leaves at least this share less
    # area open than the first
    reread_gain: float = 0.1
    # unclosable open fragments under this share of the total area are dropped as debris
    debris_area: float = 0.001
    debris_area_aggressive: float = 0.01
    # flat open fragments (stray triangles, fins cut off non-manifold edges) under this share go
    debris_flat_area: float = 0.01
    # pymeshfix cost model: seconds per face (measured, with margin) and a fixed overhead
    pymeshfix_s_per_face: float = 3e-5
    pymeshfix_overhead_s: float = 0.05


TOL = RepairTol()
