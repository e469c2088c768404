"""Every figure of every bundled cut, drawn from its ARD: no two texts overlap, no text leaves the canvas, no marker
is clipped by its axes.

The text boxes are the window extents matplotlib reports for the texts it actually draws (titles, axis and tick
labels, legend entries, annotations, notes), recorded while the canvas is drawn, so a tick label outside the view
or a hidden axis does not count.
"""

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from conftest import DATACUTS, ROOT, run_pipeline  # noqa: E402
from ucmsc import figures  # noqa: E402
from ucmsc.config import load_yaml  # noqa: E402

CUTS = sorted((p.parent.name, p.name) for p in DATACUTS.glob("*/*") if p.is_dir())
TOLERANCE = 0.5  # pixels: boxes that only touch (or share a rounding pixel) do not overlap


@pytest.fixture(scope="module", params=CUTS, ids=["/".join(c) for c in CUTS])
def drawn(request):
    trial, cut = request.param
    config = load_yaml(ROOT / "config" / "trials" / f"{trial}.yaml")
    out = figures.all_figures(run_pipeline(trial, cut, config)["ard"], config)
    texts = {stem: drawn_texts(fig) for stem, _, fig, _ in out}  # one draw of each figure serves both checks
    yield trial, cut, out, texts
    for _, _, fig, _ in out:
        plt.close(fig)


def drawn_texts(fig) -> list[tuple[Text, object]]:
    """(text, window extent) of every non-empty text the canvas draws."""
    seen = []
    original = Text.draw

    def draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            seen.append((self, self.get_window_extent(renderer)))

    Text.draw = draw
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return seen


def _overlap(a, b) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return min(width, height)


def text_overlaps(fig, texts=None) -> list[str]:
    """Each pair of drawn texts whose boxes overlap, and each text reaching outside the figure (``texts``: what
    ``drawn_texts`` recorded, when the figure is already drawn)."""
    texts = drawn_texts(fig) if texts is None else texts
    canvas = fig.bbox
    problems = [f"{t.get_text()!r} {box.bounds} leaves the canvas {canvas.bounds}" for t, box in texts
                if box.x0 < canvas.x0 - TOLERANCE or box.y0 < canvas.y0 - TOLERANCE
                or box.x1 > canvas.x1 + TOLERANCE or box.y1 > canvas.y1 + TOLERANCE]
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        if _overlap(box_a, box_b) > TOLERANCE:
            problems.append(f"{a.get_text()!r} {tuple(np.round(box_a.bounds, 1))} overlaps "
                            f"{b.get_text()!r} {tuple(np.round(box_b.bounds, 1))}")
    return problems


def clipped_markers(fig, draw: bool = True) -> list[str]:
    """Each marker (line markers, error-bar caps, scatter points) not wholly inside its axes (``draw``: False when the
    figure is already drawn)."""
    if draw:
        fig.canvas.draw()
    problems = []
    px_per_point = fig.dpi / 72
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        box = ax.bbox
        points = []
        for line in ax.lines:
            if line.get_visible() and line.get_marker() not in (None, "", "None", " "):
                xy = np.column_stack([line.get_xdata(orig=False), line.get_ydata(orig=False)]).astype(float)
                points.append((line, line.get_transform().transform(xy), line.get_markersize() / 2 * px_per_point))
        for coll in ax.collections:
            if isinstance(coll, PathCollection) and coll.get_visible() and len(coll.get_offsets()):
                sizes = np.resize(coll.get_sizes(), len(coll.get_offsets()))
                xy = coll.get_offset_transform().transform(np.asarray(coll.get_offsets(), dtype=float))
                points.append((coll, xy, np.sqrt(sizes) / 2 * px_per_point))
        for artist, xy, radius in points:
            radius = np.broadcast_to(radius, len(xy))
            for (x, y), r in zip(xy, radius):
                if not (np.isfinite(x) and np.isfinite(y)):
                    continue
                if x - r < box.x0 - TOLERANCE or x + r > box.x1 + TOLERANCE or y - r < box.y0 - TOLERANCE \
                        or y + r > box.y1 + TOLERANCE:
                    problems.append(f"{ax.get_title()!r}: marker of {artist.get_label()!r} at ({x:.0f}, {y:.0f}) px, "
                                    f"radius {r:.1f}, outside the axes {tuple(np.round(box.bounds))}")
    return problems


def test_no_text_overlaps_in_any_figure(drawn):
    trial, cut, out, texts = drawn
    problems = [f"{trial}/{cut} {stem}: {p}" for stem, _, fig, _ in out for p in text_overlaps(fig, texts[stem])]
    assert not problems, "\n".join(problems)


def test_no_marker_is_clipped_in_any_figure(drawn):
    trial, cut, out, _ = drawn
    problems = [f"{trial}/{cut} {stem}: {p}" for stem, _, fig, _ in out for p in clipped_markers(fig, draw=False)]
    assert not problems, "\n".join(problems)


def test_the_overlap_check_sees_an_overlap_and_a_text_off_the_canvas():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("plasma glucose")
    ax.text(0.5, 1.0, "*", transform=ax.transAxes, ha="center", va="bottom", fontsize=13)  # as the stars were drawn
    fig.text(0.99, 0.5, "a note that runs off the right edge")
    try:
        problems = text_overlaps(fig)
        assert any("'plasma glucose'" in p and "'*'" in p for p in problems)
        assert any("leaves the canvas" in p for p in problems)
    finally:
        plt.close(fig)


def test_the_marker_check_sees_a_marker_on_the_axis():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], "o", ms=8)
    ax.set_xlim(0, 2)  # the point at x = 0 sits on the left spine: half of it is cut off
    try:
        assert len(clipped_markers(fig)) == 1
    finally:
        plt.close(fig)
