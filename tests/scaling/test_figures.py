"""Figure helpers: readable log axes on narrow ranges, one colour per arm, grids of panels, accuracy
laws never above 1."""

from __future__ import annotations

import numpy as np
from slmscale.scaling import figures


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
