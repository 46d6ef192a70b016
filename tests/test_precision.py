"""--precision and --compile: the low-precision path trains with fp32 state; choices are explained."""
import math

import pytest
import torch

from cyclegan.checkpoint import bare_state_dict
from cyclegan.config import Config
from cyclegan.errors import UserError
from cyclegan.precision import cpu_has_fast_bf16, resolve_precision
from cyclegan.training.compile import should_compile
from cyclegan.training.cyclegan_step import CycleGAN

CPU = torch.device("cpu")


def tiny_model(precision: str) -> CycleGAN:
    cfg = Config()
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf = "resnet_6blocks", 8, 8
    cfg.train.precision = precision
    return CycleGAN(cfg, CPU)


@pytest.mark.filterwarnings("ignore:--precision bf16")
def test_auto_picks_bf16_on_cpu_only_where_it_is_fast():
    chosen = resolve_precision("auto", CPU)
    assert chosen.name == ("bf16" if cpu_has_fast_bf16() else "fp32")
    assert resolve_precision("fp32", CPU).channels_last is False
    assert resolve_precision("bf16", CPU).channels_last is True  # oneDNN's bf16 kernels need it


def test_bad_precision_choices_are_one_line_errors():
    with pytest.raises(UserError, match="--precision fp16 needs a GPU"):
        resolve_precision("fp16", CPU)
    with pytest.raises(UserError, match="choose one of"):
        resolve_precision("int8", CPU)


@pytest.mark.filterwarnings("ignore:--precision bf16")
def test_bf16_step_keeps_weights_optimizer_state_and_pool_in_fp32():
    model = tiny_model("bf16")
    torch.manual_seed(0)
    a, b = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    before = {k: v.clone() for k, v in model.G_A.state_dict().items()}
    losses = model.train_step(a, b)
    assert all(math.isfinite(v) for v in losses.values())
    assert set(losses) == {"D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"}
    for net in model.nets.values():
        assert all(p.dtype == torch.float32 for p in net.parameters())
    assert any(not torch.equal(before[k], v) for k, v in model.G_A.state_dict().items())  # it learned
    exp_avg = [s["exp_avg"] for s in model.optimizer_G.state.values()]
    assert exp_avg and all(t.dtype == torch.float32 for t in exp_avg)
    assert all(img.dtype == torch.float32 for img in model.fake_B_pool.images)
    assert model.current_visuals()["fake_B"].dtype == torch.float32


def test_bf16_and_fp32_steps_agree_to_bf16_accuracy():
    torch.manual_seed(1)
    a, b = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    fp32 = tiny_model("fp32").train_step(a, b)
    with pytest.warns(UserWarning, match="no native bf16") if not cpu_has_fast_bf16() else _nothing():
        bf16 = tiny_model("bf16").train_step(a, b)
    for name in ("cycle_A", "cycle_B", "idt_A", "idt_B"):  # same init, same data: same losses within ~2%
        assert bf16[name] == pytest.approx(fp32[name], rel=0.03)


def _nothing():
    import contextlib
    return contextlib.nullcontext()


def test_compiled_networks_save_the_same_keys():
    model = tiny_model("fp32")
    keys = {name: list(bare_state_dict(net)) for name, net in model.nets.items()}
    model.compile_networks()  # wrapping is lazy: nothing is compiled until a forward pass
    assert {name: list(bare_state_dict(net)) for name, net in model.nets.items()} == keys


def test_compile_auto_only_on_cuda_and_bf16_cpus_for_long_runs():
    assert should_compile("auto", CPU, 10 ** 6) is False                      # fp32 on a CPU: 1.04x, never
    assert should_compile("auto", CPU, 10 ** 6, precision="bf16") is True     # bf16 on a CPU: long runs
    assert should_compile("auto", CPU, 5000, precision="bf16") is False
    assert should_compile("auto", torch.device("cuda"), 10 ** 6) is True
    assert should_compile("auto", torch.device("cuda"), 10) is False
    assert should_compile("on", CPU, 1) is True and should_compile("off", torch.device("cuda"), 10 ** 6) is False
    with pytest.raises(UserError):
        should_compile("maybe", CPU, 1)


def test_the_first_compiled_step_is_quiet_and_reported_in_one_line():
    import warnings
    from cyclegan.training.compile import report_first_call
    said, calls = [], []

    def step(batch):   # what torch.compile's first call does: warnings with source lines
        warnings.warn("Graph break: torch.compile cannot trace ...", UserWarning)
        calls.append(batch)
        return batch * 2

    train_batch = report_first_call(step, ["G_A", "D_A"], said.append)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert train_batch(1) == 2
        assert len(said) == 1 and said[0].startswith("compiled G_A, D_A in ") and " s (the first step" in said[0]
        assert not caught
        assert train_batch(2) == 4   # later steps: the step itself, nothing said
        assert len(said) == 1 and len(caught) == 1 and calls == [1, 2]


def test_compile_auto_under_time_decides_from_the_budget_and_says_why():
    from cyclegan.training.compile import compile_choice
    cuda = torch.device("cuda")
    chosen, why = compile_choice("auto", cuda, 10 ** 6, time_budget=120)   # a 2-minute budget: not repaid
    assert not chosen and "too short" in why and "2 min" in why
    assert compile_choice("auto", cuda, 10 ** 6, time_budget=3600)[0]
    assert compile_choice("auto", cuda, 10 ** 6)[0] and not compile_choice("auto", cuda, 100)[0]
    assert not compile_choice("auto", CPU, 10 ** 6, time_budget=3600)[0]
    assert not compile_choice("auto", CPU, 10 ** 6, time_budget=3600, precision="bf16")[0]   # 1 h: not repaid
    assert compile_choice("auto", CPU, 10 ** 6, time_budget=3 * 3600, precision="bf16")[0]
    assert compile_choice("on", CPU, 1, time_budget=60) == (True, "--compile on")
