import io
import sys

from slmscale.progress import step_line, with_step_lines


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



def test_a_plain_line_a_minute_where_the_bar_is_off(monkeypatch):
    from slmscale import progress

    clock = [100.0]
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)  # not a terminal: the bar is disabled
    prog = progress.make_progress("steps")
    prog.get_time = lambda: clock[0]
    with prog:
        task = prog.add_task("pretrain iteration 1", total=3000, rate="")
        clock[0] += 30
        prog.update(task, completed=100, rate="loss 3.412")
        assert buf.getvalue() == ""  # nothing in the first minute: short steps stay silent
        clock[0] += 40
        prog.update(task, completed=1200, rate="loss 3.412 acc 0.31")
        line = buf.getvalue()
        assert line.startswith("pretrain iteration 1: 1,200/3,000 (40 %) | loss 3.412 acc 0.31 | 0:01:10 elapsed | ETA ")
        assert line.count("\n") == 1
        clock[0] += 10
        prog.advance(task, 10)
        assert buf.getvalue() == line  # at most one line a minute
    quiet = progress.make_progress("step", batch_lines=False)  # the trainer writes its own lines
    quiet.get_time = lambda: clock[0]
    with quiet:
        t = quiet.add_task("train", total=10, rate="")
        clock[0] += 600
        quiet.update(t, completed=5)
    assert buf.getvalue() == line
    assert progress.plain_line(prog.tasks[0]).startswith("pretrain iteration 1: 1,210/3,000 (40 %)")
