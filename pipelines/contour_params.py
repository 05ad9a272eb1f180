"""Sprite meshing parameters (seed 002's nine plus ours), presets, validation and tolerances.

Directions, so every knob does what its name says:

- ``detail_factor`` (0.001-0.05): higher keeps more outline detail, so more vertices. The
  simplification tolerance in pixels is ``TOL.detail_scale * island diagonal / detail_factor``.
  It holds along the whole outline: only where the simplified outline would cut an opaque pixel
  or touch another outline (a narrow gap between two legs, two sprites close on a sheet) is it
  halved, near that place alone, until the outline is valid.
- ``alpha_threshold`` (0-255): pixels with alpha >= it form the mask; higher drops faint pixels.
- ``concave_factor`` (0-100): radius in pixels of a morphological closing of the mask; higher
  bridges wider concavities and gaps (fewer vertices, more wasted area). 0 follows the outline.
- ``internal_vertex_density`` (0-100): interior vertices for deformation, about
  ``density * mesh area / density_scaling_factor``; 0 adds none beyond quality refinement. No
  denser than about one per 4 x ``min_triangle_area`` (the area cap is at least that), and no
  vertex that would make a triangle under ``min_triangle_area`` is kept.
- ``blur_kernel_size`` (1-21, odd; even -> next odd): Gaussian blur of the mask before
  ``binary_threshold``; larger smooths the outline. It only ever grows the mask.
- ``binary_threshold`` (0-255): threshold on the blurred mask (0-255); lower grows the outline.
  Pixels at or above ``alpha_threshold`` are always kept.
- ``min_contour_area`` (1-1000): islands of fewer pixels are dropped, holes of fewer pixels
  are filled, and so is a hole whose outline (which runs on the corners of the opaque pixels
  around it) encloses less than this many px^2; higher gives fewer islands and holes.
- ``min_hole_share`` (0-0.5): a hole enclosing less than this share of its island's outline
  area is filled too; higher gives fewer holes (fewer hull vertices, fewer narrow triangles,
  more wasted area). 0 keeps every hole ``min_contour_area`` keeps. A hole under 1 % of its island
  saves little wasted area, yet its ring adds hull vertices and forces triangles that grade from
  it to the island's long outline segments (over the sprite corpus, 0.01 against 0: 4 more
  sprites reach their angle bound, vertex median 41 -> 34, wasted area median +0.3 points).
- ``min_hole_width`` (0-16): a hole narrower than this many pixels on average (twice the area
  its outline encloses over that outline's length; a slot of transparent pixels traces to about
  its own width) is filled too when it encloses less than ``TOL.thin_hole_share`` (5 %) of its
  island; higher gives fewer holes, 0 keeps them. A 2 px slot is a ring of pixel-long segments a
  pixel or two apart, and every triangle between it and the island's outline is narrow. Over the
  sprite corpus, 2 against 0: 15 more islands reach their angle bound (1,693 -> 1,708 of 2,377)
  and one more sprite, wasted area median unchanged; the 30-frame run cycle whose legs hold such
  slots then has few enough bad triangles to be refined (6 -> 12 ms; mesh p95 8.5 -> 9.0 ms).
- ``density_scaling_factor`` (100-10000): pixels of area per interior vertex at density 1;
  higher gives fewer interior vertices.
- ``min_triangle_area`` (0.1-100): smallest triangle (px^2) with an interior vertex the mesh may have;
  higher lowers the refinement angle sooner (fewer, larger triangles near sharp corners).
- ``padding_px`` (0-64): extra outward margin in pixels (clamped to the image).
- ``all_islands`` / ``holes``: mesh every island (else the largest) / cut holes out.
- ``outline_steiner`` (default false): let quality refinement split outline segments. Off, the
  hull is exactly the simplified outline and the smallest angle is limited by what that outline
  forces (``contour_metrics.forced_min_angle``, which ``bench.contour`` reports; too slow to compute per
  job, so it is not in the metadata); on, Triangle reaches 20 degrees except at sharp
  corners and sub-pixel features (where its splits would make triangles under
  ``min_triangle_area``), at the price of extra hull vertices (the split points lie on the
  outline, so coverage is unchanged); an island where the unsplit outline, or one split into
  pieces no shorter than an equilateral triangle of ``min_triangle_area``, meshes better keeps that.
- ``max_vertices`` (3-20000): vertex budget; the tolerance grows and interior vertices are
  capped until the mesh fits. Where no tolerance fits (more islands than the budget has vertices
  for, or outlines whose outward simplification stops shrinking), the mask is closed with a disc
  of doubling radius, as a larger ``concave_factor`` would, until the outline fits (then the
  radius is bisected down towards the last that did not fit): islands merge and concavities
  fill, coverage stays whole and wasted area grows. ``metadata.budget_closing_px`` reports
  that radius in image pixels (0 when the budget needed none). When even a closing as
  large as the image does not fit, the outline is the box around every kept pixel
  (``metadata.budget_box`` true, ``budget_closing_px`` null), so any budget of 4 or more meshes;
  a budget of 3 that no closing meets fails with ``TRIANGULATION_FAILED``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from pipelines.errors import InputError


@dataclass(frozen=True)
class ContourTol:
    """Every numeric tolerance of the sprite mesher, in one place."""

    detail_scale: float = 0.0003      # tolerance px = detail_scale * island diagonal / detail_factor
    min_tolerance_px: float = 0.5     # never simplify finer than this
    max_tolerance_px: float = 64.0    # nor coarser than this
    budget_growth: float = 1.5        # tolerance multiplier per vertex-budget retry
    budget_retries: int = 12
    budget_closing_start: float = 1.0  # first closing radius (working pixels) when no tolerance fits the budget
    budget_closing_bisections: int = 3  # halvings of the gap between the radius that fits and the last that did not
    anchor_share: float = 0.5         # a simplified outline keeps at least this share of its Douglas-Peucker anchors
    unpool_budget_tries: int = 3      # fits of a pooled outline to the budget less the points unpooling added
    budget_closing_steps: int = 4     # tolerance scales tried per closing radius (past ~3x the count stops falling:
    # the outward offset of a concave ring crosses itself and is retried at a smaller tolerance)
    min_angle_deg: float = 20.0       # Triangle quality refinement
    angle_ladder: tuple[float, ...] = (20.0, 10.0, 0.0)
    cap_per_min_area: float = 4.0     # the density's area cap is at least this many min_triangle_area (2, 4, 8
    # tried on dense requests: 4 kept the most interior vertices once those under min_triangle_area were dropped)
    ladder_gain_deg: float = 0.01     # a lower rung replaces a higher one only when its min angle is this much better
    bevel_ratio: float = 2.0          # miter longer than this * (tol + offset) is bevelled
    parallel_sin: float = 1e-3        # lines closer to parallel than this are bevelled
    geom_eps: float = 1e-7            # point-on-line slack in containment tests
    crossing_retries: int = 8         # rounds of halving the tolerance near a ring's faults (crossings, cut pixels)
    fault_reach: float = 2.0          # traced points this many tolerances (+1 px) from a failed edge are re-simplified
    fault_pairs: int = 200_000        # past this many (point, failed edge) pairs, a ring is re-simplified whole
    min_ring_points: int = 4          # rings this small are kept as traced
    work_pixels: int = 65_536         # larger masks are max-pooled onto a grid of about this many cells,
    pool_per_tolerance: float = 1.0   # but a cell is at most this many small-island tolerances wide,
    pool_quantile: float = 0.25       # "small" being this quantile of the islands' tolerances
    coverage_samples: int = 65_536   # samples of the metadata coverage raster (supersampled or strided)
    max_supersample: int = 4
    tidy_passes: int = 3              # passes removing near-degenerate outline features
    tidy_sin: float = 0.26            # a notch turning less than ~15 degrees is nearly collinear
    tidy_short_ratio: float = 0.25    # a segment this much shorter than its neighbour is "short"
    tidy_notch_chord: float = 4.0     # a notch over a chord this many tolerances wide is a dent: filled
    merge_short_ratio: float = 0.34   # an outline segment under this share of both neighbours is merged outward,
    merge_area: float = 0.02          # each ring adding at most this share of its island's solid area,
    merge_corner_deg: float = 20.0    # never making a corner sharper than this nor moving the outline farther
    merge_reach: float = 2.0          # than this many of its ring's simplification tolerances (detail_factor),
    merge_rounds: int = 2             # in this many rounds (contour_tidy)
    border_widen_ratio: float = 0.3   # a segment the image border's clip leaves is widened to this share of its
    border_widen_area: float = 0.005  # shorter neighbour, adding at most this share of its ring's area
    thin_hole_share: float = 0.05     # a hole under min_hole_width is filled when under this share of its island
    busy_rows_share: float = 0.75     # a mask is cleaned and traced without its empty rows when the rest are fewer


TOL = ContourTol()


@dataclass(frozen=True)
class ContourParams:
    """Sprite meshing parameters; see the module docstring for each one's direction."""

    detail_factor: float = 0.01
    alpha_threshold: int = 10
    concave_factor: float = 0.0
    internal_vertex_density: int = 0
    blur_kernel_size: int = 1
    binary_threshold: int = 128
    min_contour_area: float = 10.0
    min_hole_share: float = 0.01
    min_hole_width: float = 2.0
    density_scaling_factor: float = 1000.0
    min_triangle_area: float = 1.0
    padding_px: int = 0
    all_islands: bool = True
    holes: bool = True
    max_vertices: int = 5000
    outline_steiner: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-able dict."""
        return {f.name: getattr(self, f.name) for f in _FIELDS}  # asdict's deep copy costs ~0.1 ms


_FIELDS = fields(ContourParams)

# (low, high) per numeric field, inclusive; seed 002's ranges for its nine.
RANGES: dict[str, tuple[float, float]] = {
    "detail_factor": (0.001, 0.05),
    "alpha_threshold": (0, 255),
    "concave_factor": (0.0, 100.0),
    "internal_vertex_density": (0, 100),
    "blur_kernel_size": (1, 21),
    "binary_threshold": (0, 255),
    "min_contour_area": (1, 1000),
    "min_hole_share": (0.0, 0.5),
    "min_hole_width": (0.0, 16.0),
    "density_scaling_factor": (100, 10000),
    "min_triangle_area": (0.1, 100),
    "padding_px": (0, 64),
    "max_vertices": (3, 20000),
}

PRESETS: dict[str, dict[str, Any]] = {
    "high_detail": {"detail_factor": 0.03, "internal_vertex_density": 20, "min_contour_area": 4,
                    "min_hole_share": 0.0, "min_hole_width": 0.0, "min_triangle_area": 0.5, "max_vertices": 4000},
    "balanced": {"detail_factor": 0.01, "internal_vertex_density": 4, "max_vertices": 1000},
    "performance": {"detail_factor": 0.004, "internal_vertex_density": 0, "min_contour_area": 50,
                    "max_vertices": 128},
    "simple_shapes": {"detail_factor": 0.002, "concave_factor": 6.0, "blur_kernel_size": 5,
                      "internal_vertex_density": 0, "min_contour_area": 100, "max_vertices": 64},
}

_BOOL_FIELDS = frozenset({"all_islands", "holes", "outline_steiner"})
_INT_FIELDS = frozenset({"alpha_threshold", "internal_vertex_density", "blur_kernel_size",
                         "binary_threshold", "padding_px", "max_vertices"})


def make_params(values: dict[str, Any] | None = None, preset: str | None = None) -> ContourParams:
    """Validated params: defaults, then ``preset``'s values, then ``values``; every bad field listed."""
    values = dict(values or {})
    preset = values.pop("preset", None) if preset is None else preset
    errors: dict[str, str] = {}
    merged: dict[str, Any] = {}
    if preset is not None:
        if preset in PRESETS:
            merged.update(PRESETS[preset])
        else:
            errors["preset"] = f"unknown preset {preset!r}; one of {sorted(PRESETS)}"
    known = {f.name for f in fields(ContourParams)}
    for name, value in values.items():
        if name not in known:
            errors[name] = "unknown parameter"
        elif value is not None:
            merged[name] = value
    coerced = {}
    for name, value in merged.items():
        ok, result = _coerce(name, value)
        if ok:
            coerced[name] = result
        else:
            errors[name] = result
    if errors:
        raise InputError("INVALID_PARAMETER", f"invalid parameters: {', '.join(sorted(errors))}",
                         {"fields": errors})
    return replace(ContourParams(), **coerced)


def _coerce(name: str, value: Any) -> tuple[bool, Any]:
    """(True, value in range and of the field's type) or (False, the reason)."""
    if name in _BOOL_FIELDS:
        return (True, value) if isinstance(value, bool) else (False, "must be true or false")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False, "must be a number"
    if name in _INT_FIELDS:
        if float(value) != int(value):
            return False, "must be an integer"
        value = int(value)
    else:
        value = float(value)
    low, high = RANGES[name]
    if not low <= value <= high:
        return False, f"must be between {low} and {high}"
    if name == "blur_kernel_size" and value % 2 == 0:
        value += 1
    return True, value
