"""The HTML report and the progression animation that every run writes, and cyclegan-report."""
import json
import shutil
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_config
from cyclegan.models import use_model
from cyclegan.cli.report import main as report_main
from cyclegan.config import Config
from cyclegan.report.progression import find_ffmpeg, fixed_input_paths
from cyclegan import train
from cyclegan.loss_log import read_log

VISUALS = ("real_A", "fake_B", "rec_A", "idt_B", "real_B", "fake_A", "rec_B", "idt_A")


class Page(HTMLParser):
    """Every tag with its attributes, plus the text of <pre id="config"> and of the step cell."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.texts: dict[str, str] = {}
        self._current: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        key = attrs.get("id") or attrs.get("class")
        self._current = key if key in ("config", "step") else None

    def handle_data(self, data):
        if self._current:
            self.texts[self._current] = self.texts.get(self._current, "") + data

    def handle_endtag(self, tag):
        self._current = None

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def trained_run(photo_domains, tmp_path_factory):
    """Two full epochs of two steps each (batch 6 of 12 images), a checkpoint kept per epoch."""
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, tmp_path_factory.mktemp("runs"), n_epochs=1, n_epochs_decay=1,
                      display="none", save_epoch_freq=1)
    cfg.data.batch_size = 6
    return train(cfg)


def test_report_is_self_contained_and_complete(trained_run):
    web = trained_run.run_dir / "web"
    page = Page((web / "index.html").read_text())
    assert not page.all("script") and not page.all("link") and not page.all("iframe")
    references = [attrs.get("src") or attrs.get("href") for _, attrs in page.tags if attrs.get("src") or attrs.get("href")]
    assert references
    for ref in references:  # relative paths to files that exist: opens from disk or a file share
        assert "://" not in ref and not ref.startswith("/"), ref
        assert (web / ref).is_file(), ref

    images = {attrs["src"] for attrs in page.all("img")}
    for epoch in (1, 2):
        assert {f"images/epoch{epoch:03d}_{name}.png" for name in VISUALS} <= images
    assert [attrs["data-epoch"] for attrs in page.all("table") if "data-epoch" in attrs] == ["2", "1"]  # newest first

    log = read_log(trained_run.run_dir / "loss_log.jsonl")
    plotted = {attrs["data-name"] for attrs in page.all("polyline")}
    assert plotted == {key for key in log[0] if key not in ("step", "epoch", "lr", "time")}
    assert page.texts["step"].strip() == str(trained_run.step) == "4"
    assert json.loads(page.texts["config"]) == json.loads((trained_run.run_dir / "config.json").read_text())


def test_progression_shows_the_same_inputs_translated_per_epoch(trained_run):
    web = trained_run.run_dir / "web"
    assert sorted(p.name for p in (web / "progression").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert Image.open(web / "progression.gif").n_frames == 2
    first, second = (np.asarray(Image.open(web / "progression" / name), dtype=np.int16)
                     for name in ("epoch_001.png", "epoch_002.png"))
    half = first.shape[0] // 2  # top row: the fixed inputs; bottom row: their translations
    assert np.array_equal(first[:half], second[:half])
    assert np.abs(first[half:] - second[half:]).mean() > 1.0  # the generator moved with training
    if find_ffmpeg() is None:
        pytest.skip("no ffmpeg encoder here (pip install imageio-ffmpeg): MP4 not checked")
    import imageio_ffmpeg
    frame_count, _ = imageio_ffmpeg.count_frames_and_secs(str(web / "progression.mp4"))
    assert frame_count == 2 + 3  # each epoch, then the last one held


def test_cyclegan_report_rebuilds_report_and_animation_from_checkpoints(trained_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(trained_run.run_dir, run, ignore=shutil.ignore_patterns("web"))
    assert report_main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "index.html" in out and "progression.gif" in out
    assert (run / "web" / "index.html").is_file()
    assert sorted(p.name for p in (run / "web" / "progression").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert Image.open(run / "web" / "progression.gif").n_frames == 2
    # the frames rendered on demand from 1_net_G_A.pth / 2_net_G_A.pth are those training rendered
    for name in ("epoch_001.png", "epoch_002.png"):
        again = np.asarray(Image.open(run / "web" / "progression" / name), dtype=np.int16)
        during = np.asarray(Image.open(trained_run.run_dir / "web" / "progression" / name), dtype=np.int16)
        assert np.abs(again - during).max() <= 1


def test_cyclegan_report_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert report_main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cyclegan-report: error:") and "config.json" in err[0]


def test_progression_uses_training_images_when_domain_A_has_no_test_split(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in sorted((domain_A / "train").iterdir())[:5]:
        shutil.copy(path, flat / path.name)
    cfg = tiny_config(flat, domain_B, tmp_path)
    assert [p.name for p in fixed_input_paths(cfg)] == sorted(p.name for p in flat.iterdir())[:4]
    cfg = tiny_config(domain_A, domain_B, tmp_path)
    assert [p.parent.name for p in fixed_input_paths(cfg)] == ["test"] * 4


def test_dcgan_sample_grids_become_the_progression(tmp_path):
    """A DCGAN run's samples/epoch_NNN.png (written by its own hook) feed the animation and the page."""
    run = tmp_path / "faces_dcgan"
    cfg = use_model(Config(), "dcgan")
    cfg.save_json(run / "config.json")
    (run / "samples").mkdir()
    for epoch, colour in enumerate(("red", "green", "blue")):
        Image.new("RGB", (34, 34), colour).save(run / "samples" / f"epoch_{epoch:03d}.png")
    assert report_main([str(run)]) == 0
    gif = Image.open(run / "web" / "progression.gif")
    assert gif.n_frames == 3
    page = Page((run / "web" / "index.html").read_text())
    assert "images/epoch002_samples.png" in {attrs["src"] for attrs in page.all("img")}
    assert (run / "web" / "images" / "epoch002_samples.png").is_file()


def test_a_failing_report_warns_once_and_training_goes_on(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, tmp_path, max_steps=2, display="none", update_html_freq=1)
    (tmp_path / "tiny").mkdir()
    cfg.save_json(tmp_path / "tiny" / "config.json")   # a run of ours (a user's own folder is refused)
    (tmp_path / "tiny" / "web").write_text("a file where the report folder should be")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(cfg)
    messages = [str(w.message) for w in caught if "cyclegan-report" in str(w.message)]
    assert len(messages) == 1 and "training continues" in messages[0]
    assert result.step == 2 and (result.run_dir / "latest_net_G_A.pth").is_file()
