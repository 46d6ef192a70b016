"""cyclegan-translate and Translator: round trips on a tiny generator saved in the run layout."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from cyclegan.runfolder import RunFolder
from cyclegan.cli.translate import main
from cyclegan.config import Config
from cyclegan.nets import create_generator
from cyclegan.nets.spec import infer_generator_spec
from cyclegan.inference.translate import Translator, plan_axis

REFERENCE_KEYS = Path(__file__).resolve().parent / "data" / "reference_state_dict_keys.txt"


def make_run(root: Path, name: str = "tiny", seed: int = 0) -> Path:
    """A run folder as cyclegan-train leaves it: config.json plus freshly initialised generators."""
    cfg = Config()
    cfg.model.ngf, cfg.model.netG = 8, "resnet_6blocks"
    run = root / "checkpoints" / name
    run.mkdir(parents=True)
    cfg.save_json(run / "config.json")
    torch.manual_seed(seed)
    nets = {side: create_generator("resnet_6blocks", ngf=8) for side in ("G_A", "G_B")}
    RunFolder(run).save_networks(nets, "latest")
    return run


def photo(width: int = 64, height: int = 48) -> Image.Image:
    return Image.fromarray(data.astronaut()).resize((width, height), Image.BICUBIC)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh current folder holding one run, so the default checkpoint and results/ resolve there."""
    monkeypatch.chdir(tmp_path)
    make_run(tmp_path)
    return tmp_path


def test_file_folder_and_glob_keep_names_and_odd_sizes(workdir, capsys):
    (workdir / "in" / "sub").mkdir(parents=True)
    photo(301, 197).save(workdir / "in" / "odd.jpg")
    photo(64, 48).save(workdir / "in" / "sub" / "deep.png")
    photo(40, 40).save(workdir / "single.bmp")
    assert main(["single.bmp", "in", "--recursive", "--quiet"]) == 0
    out = workdir / "results" / "tiny"
    assert sorted(p.name for p in out.iterdir()) == ["deep.png", "odd.png", "single.png"]
    with Image.open(out / "odd.png") as image:
        assert image.size == (301, 197) and image.mode == "RGB"
    assert "3 images in" in capsys.readouterr().err
    assert main(["in/*.jpg", "--output", "globbed", "--format", "webp", "-q"]) == 0
    assert [p.name for p in (workdir / "globbed").iterdir()] == ["odd.webp"]


def test_no_overwrite_without_flag_and_collisions_resolved(workdir, capsys):
    for folder in ("a", "b"):
        (workdir / folder).mkdir()
        photo().save(workdir / folder / "photo.jpg")
    assert main(["a/photo.jpg", "b/photo.jpg", "-o", "out", "-q"]) == 0
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["photo-2.png", "photo.png"]
    first = (workdir / "out" / "photo.png").read_bytes()
    assert main(["a/photo.jpg", "-o", "out", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cyclegan-translate: error:") and "already exists" in err[-1]
    assert (workdir / "out" / "photo.png").read_bytes() == first
    assert main(["b/photo.jpg", "-o", "out", "-q", "--overwrite"]) == 0
    assert main(["a/photo.jpg", "-o", "out", "-q", "--overwrite", "--side-by-side"]) == 0
    with Image.open(workdir / "out" / "photo.png") as image:
        assert image.size == (128, 48)


def test_exif_rotation_grayscale_and_alpha(workdir):
    rotated = photo(60, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the upright picture is 40 wide, 60 high
    rotated.save(workdir / "exif.jpg", exif=exif)
    photo(44, 36).convert("L").save(workdir / "gray.png")
    rgba = photo(36, 28).convert("RGBA")
    alpha = np.zeros((28, 36), np.uint8)
    alpha[:, 18:] = 255
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(workdir / "alpha.png")
    assert main(["exif.jpg", "gray.png", "alpha.png", "-o", "out", "-q"]) == 0
    with Image.open(workdir / "out" / "exif.png") as image:
        assert image.size == (40, 60)
    with Image.open(workdir / "out" / "gray.png") as image:
        assert image.mode == "RGB" and image.size == (44, 36)
    with Image.open(workdir / "out" / "alpha.png") as image:
        assert image.mode == "RGBA"
        assert np.array_equal(np.asarray(image)[..., 3], alpha)


def test_library_translator_on_images_tensors_and_batches(workdir):
    translate = Translator.from_checkpoint("checkpoints/tiny", direction="BtoA", device="cpu", precision="fp32")
    assert translate.direction == "BtoA" and translate.source.path.name == "latest_net_G_B.pth"
    images = [photo(64, 48), photo(64, 48).transpose(Image.FLIP_LEFT_RIGHT), photo(52, 44)]
    one_by_one = [translate(im) for im in images]
    batched = translate(images)
    for a, b in zip(one_by_one, batched):
        assert a.size == b.size
        assert np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max() <= 1
    x = torch.rand(3, 30, 26) * 2 - 1
    y = translate(x)
    assert y.shape == (3, 30, 26) and y.abs().max() <= 1
    # translate.py must not pull in the training code: checked in a fresh interpreter.
    code = "import sys, cyclegan.inference.translate; print(any(m.startswith('cyclegan.train') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_tiled_output_agrees_with_untiled(workdir):
    """Tolerance: max |tiled - untiled| < 0.1 and mean < 0.005 on the [-1, 1] scale.

    (Measured: max 0.064, mean 0.0023 with tile 160 / overlap 64 on this random-init tiny
    generator, whose 6 residual blocks see about 60 px around each pixel.)
    """
    torch.manual_seed(0)
    generator = create_generator("resnet_6blocks", ngf=8)
    image = photo(301, 197)
    x = torch.from_numpy(np.asarray(image, np.float32)).permute(2, 0, 1) / 127.5 - 1
    whole = Translator(generator, tile=1024)
    tiled = Translator(generator, tile=160, tile_overlap=64)
    reference, result = whole(x), tiled(x)
    assert whole.tiles_run == 0 and tiled.tiles_run > 6  # really tiled (statistics passes + blend pass)
    diff = (result - reference).abs()
    assert diff.max() < 0.1 and diff.mean() < 0.005
    # Statistics from a downscaled copy ("fast") drift far more: the tolerance above is not loose.
    fast = Translator(generator, tile=160, tile_overlap=64, tile_stats="fast")(x)
    assert (fast - reference).abs().mean() > 5 * diff.mean()


def test_tile_plan_covers_each_pixel_once_in_cores():
    for length, tile, overlap in [(4000, 1024, 256), (3000, 1024, 256), (300, 96, 24), (1024, 1024, 256)]:
        spans = plan_axis(length, tile, overlap)
        assert spans[0].core_start == 0 and spans[-1].core_end == length
        assert all(a.core_end == b.core_start for a, b in zip(spans, spans[1:]))
        assert all(s.start % 4 == 0 and s.start + s.size <= length for s in spans)
        assert all(a.start + a.size - b.start >= overlap - 3 for a, b in zip(spans, spans[1:]))


def test_memory_stays_bounded_on_a_4000x3000_image(tmp_path):
    """A 12-megapixel image through a (very) tiny generator in 512-pixel tiles, in a fresh process.

    The peak RSS growth must stay under 700 MB (measured here: ~250 MB, most of it the
    whole-image input, output and weight buffers), and the tile count must be the plan's.
    """
    script = textwrap.dedent("""
        import resource, torch
        from cyclegan.nets.generator import ResnetGenerator
        from cyclegan.inference.translate import Translator
        torch.manual_seed(0)
        g = ResnetGenerator(3, 3, ngf=4, n_blocks=1)
        t = Translator(g, tile=512, tile_stats="fast")
        x = torch.rand(1, 3, 3000, 4000) * 2 - 1
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        y = t.translate_tensor(x)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(tuple(y.shape), t.tiles_run, round(peak - base))
    """)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    shape, tiles, growth = done.stdout.strip().rsplit(" ", 2)[0], int(done.stdout.split()[-2]), int(done.stdout.split()[-1])
    assert shape.startswith("(1, 3, 3000, 4000)")
    per_pass = len(plan_axis(3000, 512, 128)) * len(plan_axis(4000, 512, 128))  # 8 x 11 tiles
    assert tiles == 2 * per_pass  # once to measure statistics, once to translate
    print(f"4000x3000 in {per_pass} tiles of 512: peak RSS growth {growth} MB")
    assert growth < 700, f"peak RSS grew by {growth} MB"


def test_reference_layout_state_dict_loads_and_translates(tmp_path, monkeypatch):
    """A bare latest_net_G.pth with exactly the reference's key names (ResNet-9), plus the stale
    instance-norm running stats old PyTorch versions saved: loads with netG/norm inferred."""
    monkeypatch.chdir(tmp_path)
    text = REFERENCE_KEYS.read_text().split("\n\n")[0]
    shapes = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, shape = line.split("\t")
            shapes[key] = [int(n) for n in shape.strip("[]").split(",")]
    torch.manual_seed(0)
    state = {key: torch.randn(shape) * 0.02 for key, shape in shapes.items()}
    state["model.2.running_mean"] = torch.zeros(64)  # what pretrained files from old PyTorch carry
    state["model.2.running_var"] = torch.ones(64)
    folder = tmp_path / "horse2zebra_pretrained"
    folder.mkdir()
    torch.save(state, folder / "latest_net_G.pth")
    spec = infer_generator_spec(state)
    assert (spec.netG, spec.ngf, spec.norm, spec.use_dropout) == ("resnet_9blocks", 64, "instance", False)
    photo(37, 29).save("p.jpg")
    assert main(["p.jpg", "--checkpoint", str(folder / "latest_net_G.pth"), "-q", "--device", "cpu"]) == 0
    with Image.open(tmp_path / "results" / "horse2zebra_pretrained" / "p.png") as image:
        assert image.size == (37, 29)


@pytest.mark.parametrize("args, needle", [
    (["p.jpg", "--checkpoint", "nowhere"], "nowhere does not exist"),
    (["p.jpg", "--direction", "CtoD"], "--direction"),
    (["p.jpg", "--checkpoint", "checkpoints/tiny/latest_net_G_A.pth", "--direction", "BtoA"], "G_A"),
    (["p.jpg", "--epoch", "7"], "available --epoch values: latest"),
    (["missing.jpg"], "missing.jpg does not exist"),
    (["p.jpg", "-o", "p.jpg/inside"], "not writable"),
    (["p.jpg", "--checkpoint", "checkpoints/tiny/config.json"], "config.json"),
])
def test_bad_inputs_give_one_line_and_exit_2(workdir, capsys, args, needle):
    photo().save(workdir / "p.jpg")
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0], err


def test_corrupt_image_is_named_skipped_and_exit_2(workdir, capsys):
    photo().save(workdir / "good.jpg")
    (workdir / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    assert main(["good.jpg", "broken.jpg", "-o", "out", "-q"]) == 2
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.jpg" in err and "1 failed" in err
    assert [p.name for p in (workdir / "out").iterdir() if not p.name.startswith(".")] == ["good.png"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_read_only_output_folder(workdir, capsys):
    photo().save(workdir / "p.jpg")
    locked = workdir / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["p.jpg", "-o", str(locked), "-q"]) == 2
    finally:
        locked.chmod(0o700)
    assert "not writable" in capsys.readouterr().err


# --------------------------------------------------------------------------- weights layouts

def _with_old_instance_norm_stats(state: dict, net) -> dict:
    """What old PyTorch saved for every InstanceNorm2d: running_mean/var (+ num_batches_tracked)."""
    state = dict(state)
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.InstanceNorm2d):
            state[f"{name}.running_mean"] = torch.zeros(module.num_features)
            state[f"{name}.running_var"] = torch.ones(module.num_features)
            state[f"{name}.num_batches_tracked"] = torch.tensor(0)
    return state


@pytest.mark.parametrize("netG, ngf, norm, dropout, old_stats", [
    ("resnet_9blocks", 8, "instance", False, True),     # the reference's published files (old PyTorch)
    ("resnet_9blocks", 8, "instance", True, True),
    ("resnet_6blocks", 12, "instance", False, False),
    ("resnet_6blocks", 4, "instance", True, False),
    ("resnet_9blocks", 8, "batch", False, False),       # --norm batch: running stats at conv_block.6
    ("resnet_6blocks", 16, "batch", True, False),
])
def test_every_reference_layout_is_inferred_and_loads_strictly(tmp_path, monkeypatch, netG, ngf, norm, dropout,
                                                               old_stats):
    from cyclegan.inference.generators import build_generator, resolve_generator

    torch.manual_seed(0)
    net = create_generator(netG, ngf=ngf, norm=norm, use_dropout=dropout)
    if norm == "batch":  # statistics as training leaves them, so a wrong load would show
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    state = net.state_dict()
    if old_stats:
        state = _with_old_instance_norm_stats(state, net)
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)

    spec = infer_generator_spec(state, path)
    assert (spec.netG, spec.ngf, spec.norm, spec.use_dropout) == (netG, ngf, norm, dropout)
    source = resolve_generator(path)
    assert source.spec == spec and source.spec_origin == "keys"
    loaded = build_generator(source)       # strict: every key used, none missing
    x = torch.rand(1, 3, 36, 28) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), net.eval()(x))
    monkeypatch.chdir(tmp_path)
    photo(37, 29).save("p.jpg")
    assert main(["p.jpg", "--checkpoint", str(path), "-q", "--device", "cpu"]) == 0


def test_layout_inference_refuses_what_is_not_a_resnet_generator(tmp_path):
    from cyclegan.errors import UserError
    from cyclegan.nets import create_discriminator

    with pytest.raises(UserError, match="no model.1.weight"):
        infer_generator_spec(create_discriminator("basic", ndf=8).state_dict())
    state = create_generator("resnet_6blocks", ngf=4).state_dict()
    state = {k: v for k, v in state.items() if ".conv_block." not in k or k.startswith("model.10.")}
    with pytest.raises(UserError, match="1 residual blocks"):
        infer_generator_spec(state)


# --------------------------------------------------------------------------- the library's folder translation

def test_translate_files_is_the_cli_without_the_shell(workdir):
    """A notebook translates a folder: same names, collisions resolved, formats, alpha, failures listed."""
    from cyclegan.errors import UserError
    from cyclegan.inference.translate_files import translate_files

    (workdir / "a").mkdir()
    (workdir / "b").mkdir()
    photo(40, 32).save(workdir / "a" / "x.jpg")
    photo(40, 32).save(workdir / "b" / "X.png")          # clashes with x case-insensitively
    rgba = photo(24, 20).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(workdir / "a" / "glass.png")
    (workdir / "a" / "bad.png").write_bytes(b"not an image")
    translator = Translator.from_checkpoint("checkpoints/tiny", device="cpu", precision="fp32")
    lines = []
    result = translate_files(translator, ["a", "b/*.png"], "out", fmt="webp", log=lines.append)
    names = sorted(p.name for p in result.written)
    assert names == ["X-2.webp", "glass.webp", "x.webp"] and result.output_dir == Path("out")
    assert [p.name for p, _ in result.failed] == ["bad.png"] and not result.interrupted
    assert any("X-2.webp" in line for line in lines) and any("skipped" in line for line in lines)
    with Image.open(workdir / "out" / "glass.webp") as image:
        assert image.mode == "RGBA" and image.size == (24, 20)
    # The same numbers as the command line, byte for byte.
    assert main(["a/x.jpg", "-o", "cli", "--format", "webp", "-q", "--device", "cpu", "--precision", "fp32"]) == 0
    assert (workdir / "cli" / "x.webp").read_bytes() == (workdir / "out" / "x.webp").read_bytes()
    # Default folder results/<run>/, and nothing is replaced without overwrite.
    assert translate_files(translator, ["a/x.jpg"]).written == [Path("results/tiny/x.png")]
    with pytest.raises(UserError, match="already exists"):
        translate_files(translator, ["a/x.jpg"])
    assert translate_files(translator, ["a/x.jpg"], overwrite=True, with_input=True).written
    with Image.open(workdir / "results" / "tiny" / "x.png") as image:
        assert image.size == (80, 32)


# --------------------------------------------------------------------------- memory and time, said first

def test_an_image_beyond_the_memory_is_refused_in_one_line(workdir, capsys):
    from cyclegan.errors import UserError
    from cyclegan.inference.translate_files import translate_files

    generator = create_generator("resnet_6blocks", ngf=8)
    need_small = Translator(generator, tile=64).memory_needed(40, 32)
    limit = 4 * need_small                      # room for 40 x 32, not for 400 x 320
    with pytest.raises(UserError, match=r"--size 4000: translating 4000 x 4000 pixels needs about .* MiB of memory "
                                        r"and .* is available: translate it smaller, with --size \d+ or less"):
        Translator(generator, tile=64, size=4000, memory_limit=limit)
    translator = Translator(generator, tile=64, memory_limit=limit)
    with pytest.raises(UserError, match="translating 400 x 320 pixels needs about"):
        translator(photo(400, 320))
    assert translator(photo(40, 32)).size == (40, 32)
    # In a folder, the image that cannot fit is skipped and named; the others are written.
    (workdir / "in").mkdir()
    photo(40, 32).save(workdir / "in" / "small.png")
    photo(400, 320).save(workdir / "in" / "large.png")
    result = translate_files(translator, ["in"], "out")
    assert [p.name for p in result.written] == ["small.png"]
    assert [(p.name, why.split(" needs")[0]) for p, why in result.failed] == [("large.png", "translating 400 x 320 pixels")]
    assert "--size" in result.failed[0][1]
    # The suggested --size fits.
    fits = int(result.failed[0][1].split("--size ")[1].split()[0])
    assert Translator(generator, tile=64, size=fits, memory_limit=limit).too_large(400, 320) is None


def test_a_long_tiled_translation_says_how_long_first(monkeypatch):
    import cyclegan.inference.translate as translate_module
    from cyclegan.inference.translate import tile_pass_seconds

    # Two passes for fast; for exact one per norm, each as far as its norm, then the last one.
    times = tile_pass_seconds(1.0, [0.25, 0.5], timed_pixels=100, tiled_pixels=400)
    assert times == {"fast": 8.0, "exact": 4.0 * (1 + 0.75)}
    generator = create_generator("resnet_6blocks", ngf=8)
    x = torch.rand(1, 3, 96, 96) * 2 - 1
    for stats, hint in (("exact", True), ("fast", False)):
        lines = []
        translator = Translator(generator, tile=32, tile_stats=stats, log=lines.append)
        monkeypatch.setattr(translate_module, "LONG_TRANSLATION_S", 1e9)    # short: nothing said
        translator(x)
        assert lines == []
        monkeypatch.setattr(translate_module, "LONG_TRANSLATION_S", 0.0)    # "long": said once
        first = translator(x)
        translator(x)
        assert len(lines) == 1 and lines[0].startswith(f"96 x 96 pixels in 16 tiles: about ")
        assert f"with --tile_stats {stats}" in lines[0] and ("--tile_stats fast takes about" in lines[0]) == hint
        assert torch.equal(first, translator(x))      # timing changes nothing in the result


def test_translation_defaults_to_the_exact_fp32_output():
    # bf16 changes up to ~9 of 255 levels against fp32: speed is asked for, never the default
    from cyclegan.cli.translate import build_parser
    import inspect
    assert build_parser().parse_args(["x.jpg"]).precision == "fp32"
    assert inspect.signature(Translator.from_checkpoint).parameters["precision"].default == "fp32"
