"""Figure helpers: readable log axes on narrow ranges, one colour per arm, grids of panels, accuracy
laws never above 1, laws drawn only when they may be."""

from __future__ import annotations

import numpy as np
import pandas as pd

from slmscale.scaling import arm_figures, figures


def test_a_narrow_log_axis_keeps_its_labels():
    plt = figures._plt()
    fig, ax = plt.subplots()
    ax.plot([2e11, 6e11], [1, 2])
    ax.set_xscale("log")
    figures.major_ticks_only(ax, "x")
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text() and
              ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]]
    assert labels, "an axis spanning less than a decade lost all its tick labels"
    assert figures._one_two_five(5e11) == "$5\\times10^{11}$" and figures._one_two_five(20.0) == "20"
    plt.close(fig)


def test_arm_colours_are_fixed_by_order_and_panels_wrap():
    c = figures.arm_colors(["speech", "text", "il"])
    assert c["speech"] != c["text"] != c["il"] and figures.arm_colors(["speech"])["speech"] == c["speech"]
    fig, axes = figures.panel_grid(8, ncols=3)
    assert len(axes) == 8 and fig.get_size_inches()[0] < 3 * 5 and len(fig.axes) == 9  # 3 rows of 3, one hidden
    figures._plt().close(fig)


def test_capped_hides_accuracies_above_one():
    q = figures.capped([0.5, 0.99, 1.2])
    assert q[:2].tolist() == [0.5, 0.99] and np.isnan(q[2])


def test_drawable_refuses_errors_few_points_and_degenerate_laws():
    assert arm_figures.drawable(None) == "not fitted"
    assert arm_figures.drawable({"error": "x: need at least 3"}) == "too few points"
    assert arm_figures.drawable({"gamma": 0.1, "n_envelope": 2}) == "2 point(s)"
    assert arm_figures.drawable({"gamma": 0.1, "n_envelope": 5, "degenerate": True}) == "degenerate fit"
    assert arm_figures.drawable({"gamma": 0.1, "n_envelope": 5, "degenerate": False}) is None


def test_metric_panels_write_png_and_svg(tmp_path):
    pts = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "flops_full": np.geomspace(1e9, 1e13, 8),
                        "sblimp": np.linspace(0.5, 0.9, 8), "loss": np.linspace(5, 3, 8)})
    laws = {"sblimp": {"a": {"gamma": 0.02, "k": 0.3, "n_envelope": 4},
                       "b": {"gamma": 0.3, "k": 0.01, "n_envelope": 4, "degenerate": True}}}
    paths = arm_figures.metric_panels(pts, "flops_full", ["sblimp"], laws, figures.arm_colors(["a", "b"]),
                                      tmp_path, "m", "compute")
    assert sorted(p.suffix for p in paths) == [".png", ".svg"] and all(p.stat().st_size > 1000 for p in paths)
    assert "b: no law (degenerate fit)" in paths[1].read_text()
