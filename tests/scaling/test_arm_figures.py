"""Multi-arm panels: laws drawn only when they may be (3+ points, not degenerate), PNG + SVG."""

from __future__ import annotations

import numpy as np
import pandas as pd

from slmscale.scaling import arm_figures, figures


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


def test_metric_panels_draw_the_surface_baseline_where_audited(tmp_path):
    pts = pd.DataFrame({"arm": ["a"] * 4, "flops_full": np.geomspace(1e9, 1e12, 4),
                        "sblimp": np.linspace(0.5, 0.7, 4), "swuggy": np.linspace(0.5, 0.6, 4)})
    paths = arm_figures.metric_panels(pts, "flops_full", ["sblimp", "swuggy"], {}, figures.arm_colors(["a"]),
                                      tmp_path, "m", "compute", surface={"sblimp": 0.547})
    svg = paths[1].read_text()
    assert svg.count("surface baseline 0.55") == 1  # only the audited metric's panel
