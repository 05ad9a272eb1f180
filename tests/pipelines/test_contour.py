"""Sprite mesher: coverage, ring order, UVs, quality, parameter directions, errors, real sprites."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines.contour import _fitted_outline, mesh_sprite, mesh_sprite_batch
from pipelines.contour_geometry import swallowed_islands
from pipelines.contour_params import ContourParams, make_params
from pipelines.contour_refine import triangle_areas
from pipelines.contour_rings import Ring
from pipelines.errors import InputError

SAMPLES = 4  # supersampling per pixel side in the coverage check


def png(rgba: np.ndarray) -> bytes:
    """Encode an RGBA array (channel order is irrelevant for the alpha-only tests)."""
    ok, buf = cv2.imencode(".png", rgba)
    assert ok
    return buf.tobytes()


def canvas(size: int = 128) -> np.ndarray:
    return np.zeros((size, size, 4), np.uint8)


def circle_sprite(size: int = 128, radius: int = 40) -> np.ndarray:
    img = canvas(size)
    cv2.circle(img, (size // 2, size // 2), radius, (255, 255, 255, 255), -1, cv2.LINE_AA)
    return img


def ring_sprite() -> np.ndarray:
    img = circle_sprite()
    cv2.circle(img, (64, 64), 18, (0, 0, 0, 0), -1, cv2.LINE_AA)
    return img


def islands_sprite() -> np.ndarray:
    img = canvas()
    cv2.circle(img, (30, 30), 12, (255, 255, 255, 255), -1, cv2.LINE_AA)
    cv2.rectangle(img, (70, 60), (110, 115), (255, 255, 255, 255), -1)
    return img


def thin_sprite() -> np.ndarray:
    img = canvas()
    cv2.line(img, (10, 10), (118, 100), (255, 255, 255, 255), 1, cv2.LINE_AA)
    cv2.line(img, (20, 110), (110, 110), (255, 255, 255, 255), 1)
    cv2.circle(img, (64, 40), 12, (255, 255, 255, 255), -1)
    return img


def noisy_sprite() -> np.ndarray:
    img = circle_sprite()
    rng = np.random.default_rng(7)
    ys, xs = rng.integers(0, 128, 60), rng.integers(0, 128, 60)
    img[ys, xs, 3] = 255
    return img


def covered(result: dict, height: int, width: int) -> np.ndarray:
    """``(h, w)`` share of each pixel's supersamples inside some triangle (independent raster)."""
    v = np.array(result["vertices"])
    tri = v[np.array(result["triangles"])]
    offs = (np.arange(SAMPLES) + 0.5) / SAMPLES
    ys, xs = np.meshgrid(np.arange(height * SAMPLES), np.arange(width * SAMPLES), indexing="ij")
    pts = np.stack([(xs // SAMPLES + offs[xs % SAMPLES]).ravel(), (ys // SAMPLES + offs[ys % SAMPLES]).ravel()], 1)
    inside = np.zeros(len(pts), bool)
    for a, b, c in tri:
        lo, hi = np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)
        sel = np.flatnonzero(((pts >= lo - 1e-9) & (pts <= hi + 1e-9)).all(1))
        p = pts[sel]
        d1 = (b[0] - a[0]) * (p[:, 1] - a[1]) - (b[1] - a[1]) * (p[:, 0] - a[0])
        d2 = (c[0] - b[0]) * (p[:, 1] - b[1]) - (c[1] - b[1]) * (p[:, 0] - b[0])
        d3 = (a[0] - c[0]) * (p[:, 1] - c[1]) - (a[1] - c[1]) * (p[:, 0] - c[0])
        eps = 1e-9
        ok = ((d1 >= -eps) & (d2 >= -eps) & (d3 >= -eps)) | ((d1 <= eps) & (d2 <= eps) & (d3 <= eps))
        inside[sel[ok]] = True
    return inside.reshape(height, SAMPLES, width, SAMPLES).mean(axis=(1, 3))


def assert_covers(result: dict, alpha: np.ndarray, threshold: int = 10) -> None:
    cover = covered(result, *alpha.shape)
    assert cover[alpha >= threshold].min() == 1.0


def assert_boundary_is_single_triangle_edges(result: dict) -> None:
    """The boundary edges are exactly the edges of one triangle each (and no edge has three)."""
    edges = np.sort(np.array(result["triangles"])[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    once, uses = np.unique(edges, axis=0, return_counts=True)
    assert uses.max() <= 2
    assert {tuple(e) for e in once[uses == 1]} == {tuple(sorted(e)) for e in result["boundary_edges"]}


def assert_hull_first(result: dict) -> None:
    """Boundary edges are loops over vertices 0..hull-1, each loop consecutive in index order."""
    hull = result["hull"]
    edges = np.array(result["boundary_edges"])
    assert set(edges.ravel()) == set(range(hull))
    for a, b in edges:
        assert b == a + 1 or b < a  # next in ring, or the loop closing back to its start


MESHES = {"circle": circle_sprite, "ring": ring_sprite, "islands": islands_sprite, "thin": thin_sprite,
          "noise": noisy_sprite}


@pytest.mark.parametrize("name", sorted(MESHES))
def test_mesh_covers_every_pixel_hull_first_uvs_in_range(name):
    img = MESHES[name]()
    result = mesh_sprite(png(img))
    alpha = img[..., 3].copy()
    if name == "noise":  # single-pixel specks are under min_contour_area by design
        alpha = circle_sprite()[..., 3]
    assert_covers(result, alpha)
    assert_hull_first(result)
    uvs = np.array(result["uvs"])
    assert uvs.min() >= 0 and uvs.max() <= 1
    v = np.array(result["vertices"])
    assert np.allclose(uvs, np.clip(v / 128, 0, 1), atol=1e-5)
    md = result["metadata"]
    assert md["vertex_count"] == len(v) and md["triangle_count"] == len(result["triangles"])
    assert md["opaque_coverage"] == 1.0 or name == "noise"


def test_circle_is_small_quality_and_tight():
    result = mesh_sprite(png(circle_sprite()))
    md = result["metadata"]
    assert md["min_angle_deg"] >= 19.9
    assert md["vertex_count"] <= 40
    assert md["wasted_area"] < 0.15
    assert md["islands"] == 1 and md["holes"] == 0


def test_islands_and_holes_flags():
    assert mesh_sprite(png(islands_sprite()))["metadata"]["islands"] == 2
    assert mesh_sprite(png(islands_sprite()), make_params({"all_islands": False}))["metadata"]["islands"] == 1
    ring = mesh_sprite(png(ring_sprite()))
    assert ring["metadata"]["holes"] == 1
    centre = covered(ring, 128, 128)[60:68, 60:68]
    assert centre.max() == 0.0
    assert mesh_sprite(png(ring_sprite()), make_params({"holes": False}))["metadata"]["holes"] == 0


def test_min_contour_area_applies_to_the_hole_the_outline_cuts():
    """A 2 x 5 transparent slot has 10 pixels, but the outline holding its opaque neighbours
    encloses 8 px^2 of it: under the default 10 it is not cut (as seed 002 measures contour
    areas); a 2 x 6 slot encloses 10 and is (``min_hole_share`` and ``min_hole_width`` 0, so only the
    area counts)."""
    def slot(length: int) -> np.ndarray:
        img = np.zeros((40, 40, 4), np.uint8)
        img[4:36, 4:36] = 255
        img[17:19, 14:14 + length, 3] = 0
        return img

    by_area = make_params({"min_hole_share": 0, "min_hole_width": 0})
    small, kept = mesh_sprite(png(slot(5)), by_area), mesh_sprite(png(slot(6)), by_area)
    assert small["metadata"]["holes"] == 0 and small["metadata"]["vertex_count"] == 4
    assert kept["metadata"]["holes"] == 1
    finer = make_params({"min_contour_area": 8, "min_hole_share": 0, "min_hole_width": 0})
    assert mesh_sprite(png(slot(5)), finer)["metadata"]["holes"] == 1
    for result, img in ((small, slot(5)), (kept, slot(6))):
        assert_covers(result, img[..., 3])


def test_min_hole_share_fills_holes_small_beside_their_island():
    """A 4 x 4 px hole in a 120 px square (its ring encloses 9 px^2 of the island's 14400: 0.06 %)
    is filled by default, and with it go its hull vertices and the narrow triangles grading from it
    to the square's 120 px sides; with ``min_hole_share`` 0 it is cut, and a 30 x 30 hole (6 %) is
    cut by default. Coverage is whole either way."""
    def square(hole: int) -> np.ndarray:
        img = np.zeros((128, 128, 4), np.uint8)
        img[4:124, 4:124] = 255
        img[40:40 + hole, 50:50 + hole, 3] = 0
        return img

    filled, cut = mesh_sprite(png(square(4))), mesh_sprite(png(square(4)), make_params({"min_hole_share": 0}))
    big = mesh_sprite(png(square(30)))
    assert (filled["metadata"]["holes"], cut["metadata"]["holes"], big["metadata"]["holes"]) == (0, 1, 1)
    assert filled["metadata"]["vertex_count"] < cut["metadata"]["vertex_count"]
    assert filled["metadata"]["min_angle_deg"] > cut["metadata"]["min_angle_deg"]
    assert mesh_sprite(png(square(4)), make_params({"min_hole_share": 0.0001}))["metadata"]["holes"] == 1
    for result, img in ((filled, square(4)), (cut, square(4)), (big, square(30))):
        assert_covers(result, img[..., 3])


def test_min_hole_width_fills_narrow_slots():
    """A 2 x 30 px slot in a 72 px square (1.2 % of it, over ``min_hole_share``) is filled by default:
    its ring is under 2 px wide on average (``min_hole_width``); cut (``min_hole_width`` 0, or the
    high_detail preset) it leaves narrow triangles all round it and more vertices. A 3 px slot is
    cut, and so is the 2 px one in a 20 px square, where it is over ``TOL.thin_hole_share`` of the
    island. Coverage is whole each time."""
    def slot(width: int, side: int = 72, length: int = 30) -> np.ndarray:
        img = np.zeros((side + 8, side + 8, 4), np.uint8)
        img[4:4 + side, 4:4 + side] = 255
        img[6:6 + length, 10:10 + width, 3] = 0
        return img

    filled, cut = mesh_sprite(png(slot(2))), mesh_sprite(png(slot(2)), make_params({"min_hole_width": 0}))
    assert (filled["metadata"]["holes"], cut["metadata"]["holes"]) == (0, 1)
    assert mesh_sprite(png(slot(2)), make_params({}, "high_detail"))["metadata"]["holes"] == 1
    assert filled["metadata"]["vertex_count"] < cut["metadata"]["vertex_count"]
    assert filled["metadata"]["min_angle_deg"] > cut["metadata"]["min_angle_deg"]
    wider, large_share = mesh_sprite(png(slot(3))), mesh_sprite(png(slot(2, side=20, length=16)))
    assert (wider["metadata"]["holes"], large_share["metadata"]["holes"]) == (1, 1)
    for result, img in ((filled, slot(2)), (cut, slot(2)), (wider, slot(3)), (large_share, slot(2, 20, 16))):
        assert_covers(result, img[..., 3])


def test_an_island_in_a_filled_hole_goes_with_it():
    """A 3 px dot in a 12 px hole (an eye's pupil): filling the hole (under 1 % of the square) leaves
    the dot inside the square's outline, so it is not meshed again as an island of its own (its ring
    would run through the square's triangles, listed as boundary edges with triangles on both sides).
    With the hole cut, the dot is an island in it. Either way the boundary edges are exactly the
    edges of one triangle, and coverage is whole."""
    img = np.zeros((128, 128, 4), np.uint8)
    img[4:124, 4:124] = 255
    cv2.circle(img, (60, 60), 6, (0, 0, 0, 0), -1)
    cv2.circle(img, (60, 60), 2, (255, 255, 255, 255), -1)
    filled, cut = mesh_sprite(png(img)), mesh_sprite(png(img), make_params({"min_hole_share": 0}))
    assert (filled["metadata"]["islands"], filled["metadata"]["holes"]) == (1, 0)
    assert (cut["metadata"]["islands"], cut["metadata"]["holes"]) == (2, 1)
    for result in (filled, cut):
        assert_boundary_is_single_triangle_edges(result)
        assert_covers(result, img[..., 3])


def test_an_island_the_outline_closes_round_is_meshed_with_it():
    """tests/data/notch_dot.png (the alpha of a fuzzed sprite): a dot in a notch open to the image's
    bottom edge. The big island's outline, simplified outward, closes across the notch and holds
    the dot whole; the dot was then meshed again as an island of its own, its ring running through
    the big island's triangles (8 boundary edges with a triangle on each side). It is meshed with
    the island that holds it."""
    alpha = cv2.imread(str(Path(__file__).parents[1] / "data" / "notch_dot.png"), cv2.IMREAD_UNCHANGED)
    img = np.zeros((*alpha.shape, 4), np.uint8)
    img[..., 3] = alpha
    result = mesh_sprite(png(img))
    assert result["metadata"]["islands"] == 1
    assert_boundary_is_single_triangle_edges(result)
    assert_covers(result, alpha)


def test_swallowed_islands_are_those_in_another_islands_solid():
    """An island inside another's outer ring is swallowed, one inside a hole of it is not, and
    nor is one beside it."""
    def square(x0: float, y0: float, size: float, island: int, hole: bool = False) -> Ring:
        points = np.array([[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size]], dtype=float)
        return Ring(points[::-1].copy() if hole else points, hole, island)

    rings = [square(0, 0, 10, 0), square(3, 3, 4, 0, hole=True), square(4, 4, 2, 1), square(1, 1, 1, 2),
             square(20, 0, 5, 3)]
    assert swallowed_islands(rings) == {2}
    assert swallowed_islands(rings[:2] + rings[2:3]) == set()


def test_noise_specks_dropped():
    result = mesh_sprite(png(noisy_sprite()))
    assert result["metadata"]["islands"] == 1
    assert result["metadata"]["vertex_count"] <= 60


def mesh_area(result: dict) -> float:
    v = np.array(result["vertices"])
    t = v[np.array(result["triangles"])]
    return float(0.5 * np.abs(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])).sum())


def count(img: np.ndarray, **kw) -> int:
    return mesh_sprite(png(img), make_params(kw))["metadata"]["vertex_count"]


def area(img: np.ndarray, **kw) -> float:
    return mesh_area(mesh_sprite(png(img), make_params(kw)))


def soft_sprite() -> np.ndarray:
    img = canvas()
    yy, xx = np.mgrid[:128, :128]
    img[..., 3] = np.clip(255 - np.hypot(xx - 64, yy - 64) * 5, 0, 255).astype(np.uint8)
    return img


def star_sprite() -> np.ndarray:
    img = canvas()
    angles = np.linspace(0, 2 * np.pi, 11)[:-1]
    radii = np.where(np.arange(10) % 2 == 0, 58, 22)
    pts = np.stack([64 + radii * np.cos(angles), 64 + radii * np.sin(angles)], 1).astype(np.int32)
    cv2.fillPoly(img, [pts], (255, 255, 255, 255), cv2.LINE_AA)
    return img


def test_parameter_directions():
    img, star = ring_sprite(), star_sprite()
    assert count(img, detail_factor=0.05) > count(img, detail_factor=0.002)
    assert area(soft_sprite(), alpha_threshold=200) < area(soft_sprite(), alpha_threshold=10)
    assert area(star, concave_factor=20) > area(star)
    assert count(img, internal_vertex_density=50) > count(img, internal_vertex_density=5) > count(img)
    assert count(img, internal_vertex_density=20, density_scaling_factor=5000) < \
        count(img, internal_vertex_density=20, density_scaling_factor=500)
    assert area(star, blur_kernel_size=9) >= area(star)
    assert area(star, blur_kernel_size=9, binary_threshold=20) > area(star, blur_kernel_size=9, binary_threshold=200)
    assert mesh_sprite(png(islands_sprite()), make_params({"min_contour_area": 1000}))["metadata"]["islands"] == 1
    assert area(img, padding_px=4) > area(img)
    assert count(img, internal_vertex_density=100, max_vertices=60) <= 60
    small = mesh_sprite(png(star), make_params({"min_triangle_area": 100, "internal_vertex_density": 0}))
    assert small["metadata"]["vertex_count"] <= count(star, min_triangle_area=0.1)



@pytest.mark.parametrize("sprite", [ring_sprite, star_sprite, thin_sprite, islands_sprite])
@pytest.mark.parametrize("min_area", [4.0, 20.0])
@pytest.mark.parametrize("split", [False, True])
def test_density_never_makes_triangles_under_min_triangle_area(sprite, min_area, split):
    """``internal_vertex_density``'s area cap near ``min_triangle_area``: Triangle meets a cap by inserting
    circumcentres, and one beside a short outline segment makes a sliver of any size (a 0.0004 px^2
    triangle, zero once rounded, on a corpus sheet). No triangle with an interior vertex is under
    ``min_triangle_area``, none is flat, and the density still adds interior vertices; with the
    outline split too."""
    params = make_params({"internal_vertex_density": 100, "density_scaling_factor": 100, "min_triangle_area": min_area,
                          "outline_steiner": split})
    result = mesh_sprite(png(sprite()), params)
    vertices, tris = np.asarray(result["vertices"], dtype=float), np.asarray(result["triangles"])
    areas = triangle_areas(vertices, tris)
    interior = (tris >= result["hull"]).any(axis=1)
    assert areas.min() > 0
    assert interior.any() and areas[interior].min() >= min_area - 1e-3


def dots_sprite(rows: int = 6, cols: int = 6, pitch: int = 24) -> np.ndarray:
    """A grid of ``rows * cols`` small anti-aliased discs: as many islands."""
    img = canvas(max(rows, cols) * pitch)
    for i in range(rows):
        for j in range(cols):
            cv2.circle(img, (j * pitch + pitch // 2, i * pitch + pitch // 2), 6, (255, 255, 255, 255), -1,
                       cv2.LINE_AA)
    return img


def test_budget_closes_the_mask_when_no_tolerance_fits():
    """36 islands need at least 108 outline vertices: a budget of 40 used to fail the job; the mask is
    now closed until islands merge and the outline fits, covering every pixel, at a price in waste."""
    img = dots_sprite()
    loose = mesh_sprite(png(img), make_params({"max_vertices": 1000}))["metadata"]
    assert loose["budget_closing_px"] == 0 and not loose["budget_box"] and loose["islands"] == 36
    reports: list[tuple[int, str]] = []
    tight = mesh_sprite(png(img), make_params({"max_vertices": 40}), progress=lambda *r: reports.append(r))
    closing = [pct for pct, message in reports if message.startswith("Closing the mask")]
    assert closing and all(50 < pct < 70 for pct in closing)  # each attempt reported, between the seed's steps
    assert [pct for pct, _ in reports] == sorted(pct for pct, _ in reports)
    meta = tight["metadata"]
    assert meta["vertex_count"] <= 40 and len(tight["vertices"]) <= 40
    assert meta["budget_closing_px"] > 0 and meta["islands"] < 36
    assert_covers(tight, img[..., 3])
    assert meta["wasted_area"] > loose["wasted_area"]


def test_budget_closing_is_bisected_below_the_doubling_that_fits(monkeypatch):
    from dataclasses import replace

    import pipelines.contour as contour
    img = png(dots_sprite())
    bisected = mesh_sprite(img, make_params({"max_vertices": 40}))["metadata"]
    monkeypatch.setattr(contour, "TOL", replace(contour.TOL, budget_closing_bisections=0))
    doubled = mesh_sprite(img, make_params({"max_vertices": 40}))["metadata"]
    assert 0 < bisected["budget_closing_px"] < doubled["budget_closing_px"]
    assert bisected["vertex_count"] <= 40


def test_budget_of_four_gets_the_box_and_of_three_a_clear_failure():
    """A disc filling its image, which no outward simplification inside the image brings to four
    vertices: with a budget of 4 the mesh is the box around its pixels. The whole image opaque needs
    its four corners, so a budget of 3 fails."""
    img = circle_sprite(64, 31)
    quad = mesh_sprite(png(img), make_params({"max_vertices": 4}))
    assert len(quad["vertices"]) == 4 and quad["metadata"]["budget_box"]
    assert quad["metadata"]["budget_closing_px"] is None
    ys, xs = np.nonzero(img[..., 3] >= 10)
    box = np.array(quad["vertices"])
    assert box.min(axis=0).tolist() == [xs.min(), ys.min()] and box.max(axis=0).tolist() == [xs.max() + 1, ys.max() + 1]
    assert not mesh_sprite(png(img), make_params({"max_vertices": 8}))["metadata"]["budget_box"]
    with pytest.raises(InputError) as err:
        mesh_sprite(png(np.full((32, 32, 4), 255, np.uint8)), make_params({"max_vertices": 3}))
    assert err.value.code == "TRIANGULATION_FAILED"
    assert err.value.details["max_vertices"] == 3 and err.value.details["vertex_count"] == 4


def test_budget_counts_the_points_unpooling_adds():
    """A 700 x 500 sprite is outlined on a grid pooled by 3, whose last row of cells is 2 px tall:
    the segments entering it are split where the map changes scale, and those points used to push
    the outline past the budget (9 vertices for a budget of 8). ``tidy_outline`` then merges those
    steps onto the bottom edge, but the budget is met before it, and it only ever removes points."""
    img = canvas(700)[:500]
    cv2.fillPoly(img, [np.array([[686, 144], [672, 499], [110, 499], [16, 402], [6, 168], [94, 0], [635, 0]],
                                np.int32)], (255, 255, 255, 255))
    fitted = _fitted_outline(img[..., 3].copy(), make_params({"max_vertices": 12}))
    assert sum(len(r.points) for r in fitted.rings) == 9  # a 7-gon on the grid, 2 points added mapping it back
    free = mesh_sprite(png(img), make_params({"max_vertices": 12}))
    assert free["hull"] == 7
    for budget in (7, 8):
        result = mesh_sprite(png(img), make_params({"max_vertices": budget}))
        assert len(result["vertices"]) <= budget
        assert_covers(result, img[..., 3])


def test_padding_stays_in_image():
    img = canvas(64)
    img[:, :32, 3] = 255
    result = mesh_sprite(png(img), make_params({"padding_px": 8}))
    v = np.array(result["vertices"])
    assert v.min() >= 0 and v[:, 0].max() <= 64 and v[:, 1].max() <= 64


def test_progress_steps():
    seen = []
    mesh_sprite(png(circle_sprite()), progress=lambda pct, msg: seen.append(pct))
    assert seen == [10, 20, 30, 40, 50, 70, 85, 95, 100]


def test_fully_transparent_and_one_pixel():
    with pytest.raises(InputError) as err:
        mesh_sprite(png(canvas(16)))
    assert err.value.code == "CONTOUR_NOT_FOUND"
    with pytest.raises(InputError) as err:
        mesh_sprite(png(np.zeros((1, 1, 4), np.uint8)))
    assert err.value.code == "CONTOUR_NOT_FOUND"
    one = mesh_sprite(png(np.full((1, 1, 4), 255, np.uint8)))
    assert sorted(map(tuple, one["vertices"])) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert len(one["triangles"]) == 2


def test_non_image_and_batch():
    with pytest.raises(InputError) as err:
        mesh_sprite(b"definitely not an image")
    assert err.value.code == "IMAGE_LOAD_FAILED"
    out = mesh_sprite_batch([("a.png", png(circle_sprite())), ("b.png", b"junk"), ("c.png", png(canvas(8)))],
                            ContourParams())
    assert "result" in out[0] and out[1]["error"]["code"] == "IMAGE_LOAD_FAILED"
    assert out[2]["error"]["code"] == "CONTOUR_NOT_FOUND"


def shared_sprites() -> Path | None:
    base = Path(os.environ.get("MESHMILL_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared"))
    folder = base / "sprites"
    return folder if folder.is_dir() else None


REAL = ["godot__face_happy.png", "godot__creeps_enemyFlyingAlt_1.png", "bevy__rpg_hat_guy.png",
        "freedoom__spida1.png", "mtg__ladder_wood_16px.png", "tiled__sticker_knight_hero.png",
        "gdquest__root_01_16bit.png", "godot__fsm_shadow.png",
        # large enough to be meshed on a max-pooled grid, one of them a sheet of small islands
        "macroquad__ferris.png", "teeworlds__mapres_grass_doodads.png", "godot__iso_tileset.png"]


@pytest.mark.parametrize("name", REAL)
def test_real_sprites(name):
    folder = shared_sprites()
    if folder is None or not (folder / name).exists():
        pytest.skip("shared sprite corpus not present")
    from pipelines.image_io import load_rgba

    data = (folder / name).read_bytes()
    result = mesh_sprite(data)
    alpha = load_rgba(data)[..., 3]
    cover = covered(result, *alpha.shape) if alpha.size <= 300 * 300 else None
    if cover is not None:
        assert cover[alpha >= 128].mean() >= 0.999
    assert result["metadata"]["opaque_coverage"] >= 0.99
    assert_hull_first(result)
    assert_holds_mask(result, alpha)


def assert_holds_mask(result: dict, alpha: np.ndarray, params: ContourParams | None = None) -> None:
    """Exact on the pixel grid: every pixel of the cleaned full-resolution mask (alpha at or over
    the threshold, specks under min_contour_area dropped) is whole inside the outline before the
    result's 4-decimal rounding, and the result's outline is that outline, rounded, in the image."""
    from pipelines.contour import build_mask, clean_mask, sprite_outline
    from pipelines.contour_geometry import _uncovering_rings
    from pipelines.contour_metrics import outline_rings

    params = params or ContourParams()
    outline = [r.points for r in sprite_outline(alpha, params)]
    assert _uncovering_rings(outline, clean_mask(build_mask(alpha, params), params)) == set()
    got = outline_rings(result)
    assert len(got) == len(outline)
    for ring, loop in zip(outline, got, strict=True):
        assert np.abs(ring - loop).max() <= 5e-5 + 1e-9  # half a unit of the 4th decimal, and float noise
    v = np.array(result["vertices"])
    assert v.min() >= 0 and v[:, 0].max() <= alpha.shape[1] and v[:, 1].max() <= alpha.shape[0]
