"""--time: the learning rate laid over wall-clock time, a run that ends before its deadline with a
finished schedule, the estimate every run prints, and exact resume of a time-scheduled run."""
import pytest
import torch

from conftest import tiny_config
from cyclegan import train
from cyclegan.checkpoint import load_torch_file
from cyclegan.errors import UserError
from cyclegan.loss_log import read_log
from cyclegan.runfolder import STATE_FILE
from cyclegan.training import schedule as schedule_module
from cyclegan.training.schedule import EpochSchedule, TimeSchedule, parse_duration


class FakeClock:
    """Advances ``step`` seconds every time it is read (the schedule reads it once per step)."""

    def __init__(self, step: float = 1.0):
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


class At:   # a Progress stand-in
    def __init__(self, step=0, epoch=1):
        self.step, self.epoch = step, epoch


def test_durations_parse_as_the_help_says():
    assert [parse_duration(s) for s in ("90s", "15m", "2h", "1h30m", "45", "0.5m")] == [90, 900, 7200, 5400, 45, 30]
    for bad in ("5x", "m", "", "-3m", "0s"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_time_schedule_is_constant_then_linear_to_zero_over_the_budget():
    """100 s, half constant (n_epochs = n_epochs_decay): lr full until 50 s, half at 75 s, ~0 at the end;
    it finishes when one more step would pass the deadline."""
    s = TimeSchedule(lr=1e-3, budget_seconds=100, constant_fraction=0.5, clock=FakeClock(1.0))
    s.start(At())
    rates, step = [], 0
    while not s.finished(At(step)):
        rates.append(s.learning_rate(At(step)))
        step += 1
        s.step_done(At(step))
    assert step == 99 and s.elapsed == 99          # the 100th step would end on the deadline: not taken
    assert rates[0] == rates[50] == 1e-3           # constant for the first half (the 51st step starts at 50 s)
    assert rates[75] == pytest.approx(0.5e-3)      # halfway through the decay
    assert rates[-1] == pytest.approx(1e-3 * 2 / 50)   # the last step starts 2 s before the deadline
    assert s.learning_rate(At(step)) == pytest.approx(1e-3 * 1 / 50)


def test_time_schedule_leaves_room_for_the_longest_pause():
    """A step that once took 5 s longer (a save) keeps that much in reserve before the deadline."""
    clock = FakeClock(1.0)
    s = TimeSchedule(lr=1.0, budget_seconds=30, constant_fraction=0.0, clock=clock)
    s.start(At())
    for i in range(5):
        s.step_done(At(i + 1))
    clock.t += 5.0                                  # a 6 s step: 5 s of saving
    s.step_done(At(6))
    steps = 6
    while not s.finished(At(steps)):
        steps += 1
        s.step_done(At(steps))
    assert s.elapsed + 1.0 + 5.0 >= 30 > s.elapsed + 5.0   # stopped with one step and one pause in reserve


def test_resuming_adds_the_new_time_to_the_time_already_trained():
    s = TimeSchedule(lr=1.0, budget_seconds=60, constant_fraction=0.5, clock=FakeClock())
    s.start(At())
    for i in range(20):
        s.step_done(At(i + 1))
    saved = s.state_dict()
    kept = TimeSchedule(lr=1.0, budget_seconds=0, constant_fraction=0.5)
    kept.load_state_dict(saved)                     # --continue_train: the same budget, where it stood
    assert (kept.budget, kept.elapsed) == (60, 20) and kept.learning_rate(At()) == s.learning_rate(At())
    more = TimeSchedule(lr=1.0, budget_seconds=600, constant_fraction=0.5)
    more.load_state_dict(saved, extra_seconds=600)  # --continue_train --time 10m: 10 more minutes
    assert (more.budget, more.elapsed) == (620, 20)


def test_the_estimate_names_time_when_the_schedule_takes_more_than_a_day():
    s = EpochSchedule(lambda epoch: 2e-4, last_epoch=200, max_steps=None, total_steps=200_000,
                      clock=FakeClock(0.5))
    s.start(At())
    lines = []
    for i in range(12):
        s.step_done(At(i + 1))
        lines.append(s.estimate(At(i + 1)))
    printed = [line for line in lines if line]
    assert len(printed) == 1 and lines.index(printed[0]) == 10   # once, after 10 timed steps (the first is a warm-up)
    assert "200000 steps" in printed[0] and "0.5 s/step" in printed[0] and "about 27.8 h" in printed[0]
    assert "more than a day" in printed[0] and "--time" in printed[0]
    short = EpochSchedule(lambda epoch: 2e-4, 2, None, 100, clock=FakeClock(0.5))
    short.start(At())
    for i in range(11):
        short.step_done(At(i + 1))
    line = short.estimate(At(11))
    assert "about 50 s" in line and "--time" not in line


def test_every_run_prints_its_estimate(photo_domains, tmp_path, capsys):
    _, domain_A, domain_B = photo_domains
    train(tiny_config(domain_A, domain_B, tmp_path, n_epochs=1, n_epochs_decay=1))
    err = capsys.readouterr().err
    assert "cyclegan-train: this schedule is 24 steps; at " in err and "s/step (measured over 10 steps) it takes" in err
    assert "--time" not in err


def test_a_time_run_ends_before_its_deadline_with_a_finished_schedule_and_resumes(photo_domains, tmp_path, capsys,
                                                                                   request):
    """A real 10-second run: it stops before 10 s of training with the rate decayed towards zero,
    translates the test split, saves a resumable state, and --continue_train --time 3s trains 3 s more.
    (Step counts depend on the machine's load; the assertions do not.)"""
    _, domain_A, domain_B = photo_domains
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # two threads on a loaded 2-core machine can spend seconds at each barrier
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    cfg = tiny_config(domain_A, domain_B, tmp_path, time_budget=10.0, save_latest_freq=10 ** 6)
    first = train(cfg)
    assert not first.interrupted and first.step >= 3
    state = load_torch_file(first.run_dir / STATE_FILE)
    sched = state["schedule"]
    assert sched["kind"] == "time" and sched["budget"] == 10.0 and sched["elapsed"] < 10.0
    log = [x for x in read_log(first.run_dir / "loss_log.jsonl") if "D_A" in x]
    assert log[0]["lr"] == cfg.train.lr and log[-1]["lr"] < 0.5 * cfg.train.lr   # into the decay, near its end
    assert len(list((first.run_dir / "test_results").glob("*.png"))) == 4      # the test split, translated
    if first.step >= 12:
        assert "cyclegan-train: --time 10 s: at " in capsys.readouterr().err

    more = train(tiny_config(domain_A, domain_B, tmp_path, time_budget=3.0, continue_train=True))
    again = load_torch_file(more.run_dir / STATE_FILE)["schedule"]
    assert more.step > first.step
    assert again["budget"] == pytest.approx(sched["elapsed"] + 3.0) and sched["elapsed"] < again["elapsed"] < again["budget"]


def fast_options(cfg):
    cfg.model.netG, cfg.model.upsample = "skip_resnet_6blocks", "resize"
    cfg.train.ema = 0.9
    cfg.model.pool_size = 2
    return cfg


def test_a_time_run_with_every_fast_option_resumes_exactly(photo_domains, tmp_path, monkeypatch):
    """With a clock that ticks 0.5 s per step: 19 steps straight == 7 steps, stop, resume (keeping the
    saved budget) -- same weights, the same weight averages, the same learning rates."""
    _, domain_A, domain_B = photo_domains

    def run(root, max_steps=None, resume=False):
        monkeypatch.setattr(schedule_module, "now", FakeClock(0.5))
        cfg = fast_options(tiny_config(domain_A, domain_B, root, max_steps=max_steps, continue_train=resume,
                                       time_budget=None if resume else 10.0))
        return train(cfg)
    straight = run(tmp_path / "straight")
    run(tmp_path / "split", max_steps=7)
    split = run(tmp_path / "split", resume=True)
    assert straight.step == split.step == 19
    a, b = (load_torch_file(r.run_dir / STATE_FILE) for r in (straight, split))
    for part in ("nets", "averages"):
        for net in a["model"][part]:
            sa, sb = a["model"][part][net], b["model"][part][net]
            sa = sa.get("weights", sa)
            sb = sb.get("weights", sb)
            assert all(torch.equal(sa[k], sb[k]) for k in sa), (part, net)
    assert (a["schedule"]["budget"], a["schedule"]["elapsed"]) == (b["schedule"]["budget"], b["schedule"]["elapsed"])
    rates = lambda r: [(x["step"], x["lr"]) for x in read_log(r.run_dir / "loss_log.jsonl") if "D_A" in x]
    assert rates(straight) == rates(split)


def test_time_needs_a_positive_budget(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    with pytest.raises(UserError, match="--time.*must be positive"):
        train(tiny_config(domain_A, domain_B, tmp_path, time_budget=0.0))
