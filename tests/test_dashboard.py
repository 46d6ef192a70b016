"""The live dashboard against a real visdom server on 127.0.0.1 (started with cyclegan-dashboard)."""
import base64
import io
import json
import socket
import subprocess
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tiny_config
from cyclegan.checkpoint import load_torch_file
from cyclegan.report.visdom_sender import VisdomSender, server_answers
from cyclegan import train
from cyclegan.loss_log import read_log

_SERVER: dict = {}
LOSS_NAMES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(port: int, env_path, timeout: float = 120.0) -> subprocess.Popen:
    """cyclegan-dashboard in a subprocess; returns once the server answers (fails with its stderr if it exits)."""
    process = subprocess.Popen([sys.executable, "-m", "cyclegan.cli.dashboard", "--port", str(port),
                                "--env_path", str(env_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not server_answers(f"http://127.0.0.1:{port}", 1.0):
        if process.poll() is not None:
            pytest.fail(f"cyclegan-dashboard exited with {process.returncode}: {process.stderr.read().strip()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("cyclegan-dashboard did not answer within the time limit")
        time.sleep(0.3)
    return process


def stop_dashboard(process: subprocess.Popen) -> None:
    """Stop it and close its pipes (communicate reads them to the end), so nothing stays open."""
    process.terminate()
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    pytest.importorskip("visdom", reason="visdom is not installed (CI installs it with .ci/install_dashboard.sh)")
    port = free_port()
    process = start_dashboard(port, tmp_path_factory.mktemp("visdom_env"))
    _SERVER["process"] = process  # the last test of this file stops it mid-use
    yield port
    stop_dashboard(process)


def window_data(port: int, env: str) -> dict:
    from visdom import Visdom
    client = Visdom(server="http://127.0.0.1", port=port, env=env, raise_exceptions=True, use_incoming_socket=False)
    return json.loads(client.get_window_data(env=env))


def test_training_fills_the_loss_and_image_windows(dashboard, photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, tmp_path, max_steps=4, display="visdom", display_server="http://127.0.0.1",
                      display_port=dashboard, display_env="fill_test", display_freq=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(cfg)
    assert not [w for w in caught if "visdom" in str(w.message)]
    windows = window_data(dashboard, "fill_test")
    log = read_log(result.run_dir / "loss_log.jsonl")  # print_freq 1: one line per step
    assert len(log) == 4
    for name in LOSS_NAMES:
        trace = windows[f"loss_{name}"]["content"]["data"][0]
        assert trace["x"] == pytest.approx([record["epoch"] for record in log], abs=1e-4)
        assert trace["y"] == pytest.approx([record[name] for record in log], abs=1e-5)
    assert windows["learning_rate"]["content"]["data"][0]["y"] == pytest.approx([cfg.train.lr] * 4)
    assert all(v > 0 for v in windows["throughput"]["content"]["data"][0]["y"])

    visuals = windows["visuals"]
    assert visuals["type"] == "image"
    assert visuals["title"] == "current visuals (epoch 1, step 4)"
    assert visuals["content"]["caption"] == "real_A fake_B rec_A idt_B | real_B fake_A rec_B idt_A"
    png = base64.b64decode(visuals["content"]["src"].split(",", 1)[1])
    grid = Image.open(io.BytesIO(png)).convert("RGB")
    assert grid.size == (4 * (32 + 4), 2 * (32 + 4))  # two rows of four 32x32 visuals, 2 px padding around each
    real_A = np.asarray(grid.crop((2, 2, 34, 34))).reshape(-1, 3)
    assert len(np.unique(real_A, axis=0)) > 50  # a photo, not a blank tile


def test_no_server_means_one_warning_and_exit_0(photo_domains, tmp_path):
    from cyclegan.cli.train import main as train_main
    _, domain_A, domain_B = photo_domains
    port = free_port()  # nothing listens here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = train_main(["--domainA", str(domain_A), "--domainB", str(domain_B), "--name", "noserver",
                           "--checkpoints_dir", str(tmp_path), "--max-steps", "2", "--ngf", "8", "--ndf", "8",
                           "--netG", "resnet_6blocks", "--load_size", "36", "--crop_size", "32",
                           "--num_threads", "0", "--no-progress", "--display", "visdom", "--display_port", str(port)])
    assert code == 0
    messages = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
    assert len(messages) == 1, messages
    assert "no visdom server answers" in messages[0] and str(port) in messages[0]
    assert (tmp_path / "noserver" / "latest_net_G_A.pth").is_file()


class _HungServer(ThreadingHTTPServer):
    """Answers the reachability probe, then never answers a POST (a visdom server that froze)."""
    daemon_threads = True

    def __init__(self):
        self.release = threading.Event()
        self.posts = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler):
                handler.send_response(200)
                handler.end_headers()

            def do_POST(handler):
                self.posts += 1
                self.release.wait(60)

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_a_hung_server_changes_nothing_for_the_run(photo_domains, tmp_path):
    pytest.importorskip("visdom", reason="visdom is not installed (CI installs it with .ci/install_dashboard.sh)")
    _, domain_A, domain_B = photo_domains
    server = _HungServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        plain = train(tiny_config(domain_A, domain_B, tmp_path / "plain", max_steps=3, display="none"))
        cfg = tiny_config(domain_A, domain_B, tmp_path / "hung", max_steps=3, display="visdom",
                          display_server="http://127.0.0.1", display_port=server.server_address[1], display_freq=1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            watched = train(cfg)
        messages = [str(w.message) for w in caught if "visdom" in str(w.message)]
        assert server.posts >= 1  # the dashboard really tried
        assert len(messages) == 1 and "stopped answering" in messages[0], messages
        assert watched.step == plain.step == 3
        a = load_torch_file(plain.run_dir / "latest_net_G_A.pth")
        b = load_torch_file(watched.run_dir / "latest_net_G_A.pth")
        assert all(torch.equal(a[k], b[k]) for k in a)  # the very same training
    finally:
        server.release.set()
        server.shutdown()


def test_sending_never_blocks_the_caller():
    server = _HungServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender = VisdomSender(f"http://127.0.0.1:{server.server_address[1]}", "x", timeout=1.0, max_pending=4,
                              warn=lambda message: None)
        started = time.monotonic()
        accepted = [sender.submit(lambda vis: vis.text("hello")) for _ in range(200)]
        assert time.monotonic() - started < 0.5
        assert accepted.count(True) <= 5 and sender.stats.dropped >= 195
        started = time.monotonic()
        sender.close(wait=3.0)
        assert time.monotonic() - started < 4.0
    finally:
        server.release.set()
        server.shutdown()


def test_dashboard_listens_on_loopback_only(dashboard):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # picks the outward interface; sends nothing
        outward = probe.getsockname()[0]
    if outward.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address to test against")
    assert server_answers(f"http://127.0.0.1:{dashboard}")
    assert not server_answers(f"http://{outward}:{dashboard}", 2.0)


def test_dashboard_refuses_a_busy_port_in_one_line(dashboard, tmp_path, capsys):
    from cyclegan.cli.dashboard import main as dashboard_main
    assert dashboard_main(["--port", str(dashboard), "--env_path", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"cyclegan-dashboard: error: --port {dashboard} is in use")


def test_front_end_files_are_installed_for_offline_use(dashboard):
    from cyclegan.report.frontend import REQUIRED, frontend_status
    status = frontend_status()
    assert status.complete, status.missing
    assert (status.static_dir / "js" / "plotly-plotly.min.js").stat().st_size > 1_000_000
    assert len(REQUIRED) == 14


def test_a_server_that_dies_costs_one_warning_and_never_blocks(dashboard):
    """Runs last in this file: it stops the module's server after a first successful update."""
    messages = []
    sender = VisdomSender(f"http://127.0.0.1:{dashboard}", "dies", timeout=2.0, retry_after=0.2, warn=messages.append)
    sender.submit(lambda vis: vis.text("before"))
    deadline = time.monotonic() + 20
    while sender.stats.sent < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sender.stats.sent == 1 and not messages
    stop_dashboard(_SERVER["process"])
    started = time.monotonic()
    for _ in range(50):
        sender.submit(lambda vis: vis.text("after"))
        time.sleep(0.01)
    assert time.monotonic() - started < 2.0
    sender.close(wait=5.0)
    assert sender.stats.failed >= 1
    assert len(messages) == 1 and "stopped answering" in messages[0]
