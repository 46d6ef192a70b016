"""The dashboard and the HTML report as a user sees them: rendered by headless Chromium, offline."""
import io
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_config
from cyclegan.report.visdom_sender import server_answers
from cyclegan import train

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no headless Chromium here (Debian: apt-get install "
                                "chromium chromium-driver; CI runs .ci/install_dashboard.sh)")


def chromium(tmp_path, url: str, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile{time.monotonic_ns()}"  # a fresh profile every time
    return subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--no-first-run", f"--user-data-dir={profile}", *extra, url],
                          capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def watched_run(photo_domains, tmp_path_factory):
    """A short run sent to a real dashboard: (dashboard port, visdom env, run folder).

    --display auto: the dashboard is used because a server answers.
    """
    pytest.importorskip("visdom", reason="visdom is not installed (CI installs it with .ci/install_dashboard.sh)")
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "cyclegan.cli.dashboard", "--port", str(port), "--env_path",
                                str(tmp_path_factory.mktemp("visdom_env"))], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not server_answers(f"http://127.0.0.1:{port}", 1.0):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"cyclegan-dashboard did not start: {process.stderr.read() if process.poll() is not None else 'timeout'}")
            time.sleep(0.3)
        _, domain_A, domain_B = photo_domains
        cfg = tiny_config(domain_A, domain_B, tmp_path_factory.mktemp("runs"), max_steps=3, display="auto",
                          display_server="http://127.0.0.1", display_port=port, display_env="browser_test")
        result = train(cfg)
        yield port, "browser_test", result.run_dir
    finally:
        process.terminate()
        process.communicate(timeout=10)   # waits, and closes the stderr pipe


def test_dashboard_renders_loss_plots_and_the_visuals(watched_run, tmp_path):
    port, env, _ = watched_run
    page = chromium(tmp_path, f"http://127.0.0.1:{port}/env/{env}", "--virtual-time-budget=10000", "--dump-dom")
    dom = page.stdout.decode(errors="replace")
    plots = re.findall(r'class="[^"]*js-plotly-plot', dom)
    assert len(plots) >= 8 + 2, dom[-2000:]  # eight losses, throughput, learning rate
    images = re.findall(r'<img[^>]*class="content-image[^"]*"[^>]*src="data:image/png;base64,', dom)
    assert len(images) == 1
    assert "loss cycle_A" in dom and "current visuals" in dom


def test_report_renders_its_plot_and_images_from_disk(watched_run, tmp_path):
    _, _, run_dir = watched_run
    url = (run_dir / "web" / "index.html").as_uri()
    dom = chromium(tmp_path, url, "--dump-dom").stdout.decode(errors="replace")
    # eight losses, then the identity-collapse guard's charts: G_change with G_beyond_colour, D_tells
    assert len(re.findall(r"<polyline", dom)) == 8 + 3
    assert "how much G changes the photos" in dom and "between real B and translations" in dom
    assert len(re.findall(r'<img[^>]*src="images/epoch001_', dom)) == 8
    assert 'src="progression.gif"' in dom
    shot = tmp_path / "report.png"
    chromium(tmp_path, url, "--window-size=900,1600", f"--screenshot={shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    # photos and coloured loss curves, not a blank or text-only page
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500
