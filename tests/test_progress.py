import io
import sys

from slmscale.progress import batch_line, eta, step_line, with_step_lines


def test_step_line_has_loss_lr_rate_and_eta():
    rec = {"step": 50, "tokens": 50 * 1000, "train_loss": 3.21987, "lr": 4.5e-4, "tokens_per_s": 2000.0}
    line = step_line(rec, 200)
    # 150 steps left x 1000 tokens / 2000 tok/s = 75 s
    assert line == "step 50/200 | tokens 50,000 | loss 3.2199 | lr 0.00045 | 2,000 tok/s | ETA 0:01:15"
    assert step_line({"step": 50, "tokens": 50_000, "valid_loss": 3.5}, 200) == \
        "step 50/200 | tokens 50,000 | valid loss 3.5000"
    assert step_line({"step": 1, "tokens": 10, "train_loss": None}, 5) is None


def test_lines_only_when_stderr_is_not_a_terminal(monkeypatch):
    seen = []
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)  # StringIO.isatty() is False: a batch job's log
    log = with_step_lines(seen.append, 10)
    log({"step": 2, "tokens": 20, "train_loss": 1.0, "lr": 1e-3, "tokens_per_s": 10.0})
    assert len(seen) == 1 and buf.getvalue().startswith("step 2/10 | tokens 20 | loss 1.0000")

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    sink = seen.append
    assert with_step_lines(sink, 10) is sink  # the progress bar shows it instead


def test_info_prints_brackets_as_written(capsys):
    from slmscale.progress import info

    info("[study] run a/[b] done")
    assert "[study] run a/[b] done" in capsys.readouterr().err


def test_batch_line_and_eta(monkeypatch):
    # 30 of 100 units done since unit 10 in 40 s: 0.5/s, 70 left -> 140 s
    assert eta(30, 100, 10, 40.0) == "0:02:20"
    assert eta(10, 100, 10, 5.0) == "?"  # no rate yet
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    batch_line("step 3/9")
    assert buf.getvalue() == "step 3/9\n"

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    batch_line("step 4/9")
    assert tty.getvalue() == ""  # the progress bar shows it instead
