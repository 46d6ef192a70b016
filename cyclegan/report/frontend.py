"""visdom's browser files (React, Plotly, Bootstrap, MathJax), installed so the dashboard works offline.

visdom 0.2.4 ships without them: ``python -m visdom.server`` downloads them from CDNs on first
start and crashes when it cannot. The same files are published as npm packages, so when the
CDNs are out of reach we fetch the exact versions visdom pins through the user's own npm
setup (``npm pack``; or the registry named in the npm configuration), and unpack the files
visdom's ``server/build.py`` downloads under the names it gives them.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

# (npm package@version, file inside the package, destination under visdom's static/ folder).
# The destinations are the names visdom's server/build.py saves its downloads under.
_MATHJAX_FILES = ("MathJax.js", "config/Safe.js", "config/TeX-AMS-MML_HTMLorMML.js", "extensions/Safe.js",
                  "jax/output/SVG/fonts/TeX/fontdata.js", "jax/output/SVG/jax.js",
                  "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js", "jax/output/SVG/config.js")
_BOOTSTRAP_FONTS = ("eot", "woff2", "woff", "ttf", "svg")

VENDOR_FILES: list[tuple[str, str, str]] = [
    ("jquery@3.1.1", "dist/jquery.min.js", "js/jquery.min.js"),
    ("bootstrap@3.3.7", "dist/js/bootstrap.min.js", "js/bootstrap.min.js"),
    ("bootstrap@3.3.7", "dist/css/bootstrap.min.css", "css/bootstrap.min.css"),
    *[("bootstrap@3.3.7", f"dist/fonts/glyphicons-halflings-regular.{ext}",
       f"fonts/glyphicons-halflings-regular.{ext}") for ext in _BOOTSTRAP_FONTS],
    ("react@16.2.0", "umd/react.production.min.js", "js/react-react.min.js"),
    ("react-dom@16.2.0", "umd/react-dom.production.min.js", "js/react-dom.min.js"),
    ("react-modal@3.1.10", "dist/react-modal.min.js", "js/react-modal.min.js"),
    ("plotly.js-dist-min@2.11.1", "plotly.min.js", "js/plotly-plotly.min.js"),
    ("sjcl@1.0.7", "sjcl.js", "js/sjcl.js"),
    ("layout-bin-packer@1.4.0", "dist/layout-bin-packer.js", "js/layout_bin_packer.js"),
    ("layout-bin-packer@1.4.0", "dist/layout-bin-packer.js.map", "js/layout-bin-packer.js.map"),
    ("d3@3.5.17", "d3.min.js", "js/d3.v3.min.js"),
    ("d3-selection-multi@1.0.1", "build/d3-selection-multi.js", "js/d3-selection-multi.v1.js"),
    ("save-svg-as-png@1.4.17", "lib/saveSvgAsPng.js", "js/saveSvgAsPng.js"),
    ("react-resizable@1.4.6", "css/styles.css", "css/react-resizable-styles.css"),
    ("react-grid-layout@0.16.3", "css/styles.css", "css/react-grid-layout-styles.css"),
    ("classnames@2.2.5", "index.js", "fonts/classnames"),  # build.py's unpkg URL names no file
    *[("mathjax@2.7.5", name, f"js/mathjax/2.7.5/{name}") for name in _MATHJAX_FILES],
]

# What visdom's index.html loads: without these the page stays empty.
REQUIRED = ("css/bootstrap.min.css", "js/jquery.min.js", "js/bootstrap.min.js",
            "css/react-resizable-styles.css", "css/react-grid-layout-styles.css",
            "js/react-react.min.js", "js/react-dom.min.js", "js/layout_bin_packer.js",
            "js/mathjax/2.7.5/MathJax.js", "js/mathjax/2.7.5/config/TeX-AMS-MML_HTMLorMML.js",
            "js/plotly-plotly.min.js", "js/d3.v3.min.js", "js/d3-selection-multi.v1.js", "js/saveSvgAsPng.js")

WHAT_TO_DO = ("install visdom's front-end files: run cyclegan-dashboard once on a machine where "
              "`npm` reaches its registry (or where https://unpkg.com answers), in the same Python "
              "environment, then start it again")


@dataclass
class FrontendStatus:
    static_dir: Path
    missing: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing


def static_dir() -> Path:
    import visdom
    return Path(visdom.__file__).resolve().parent / "static"


def frontend_status(folder: Path | None = None) -> FrontendStatus:
    folder = folder or static_dir()
    return FrontendStatus(folder, [name for name in REQUIRED if not (folder / name).is_file()])


def ensure_frontend(log=print, cdn_timeout: float = 4.0, npm_timeout: float = 300.0) -> str:
    """Make sure the dashboard's browser files exist; returns how they were obtained.

    Order: already there; visdom's own download (when its CDN answers); npm packages of the
    same versions; otherwise a UserError whose one line says what to do.
    """
    status = frontend_status()
    if status.complete:
        return "present"
    folder = status.static_dir
    if not os.access(folder, os.W_OK):
        raise UserError(f"visdom's static folder {folder} is not writable and lacks "
                        f"{len(status.missing)} front-end files; {WHAT_TO_DO} as the user who owns it")
    errors = []
    if _reachable("https://unpkg.com/", cdn_timeout):
        log("downloading visdom's front-end files with visdom's own downloader")
        try:
            from visdom.server.build import download_scripts
            download_scripts()
        except Exception as exc:  # its downloader crashes on the first unreachable file
            errors.append(f"visdom's download failed ({type(exc).__name__})")
        if frontend_status(folder).complete:
            return "visdom"
    else:
        errors.append("visdom's CDN (unpkg.com) is unreachable")
    log("fetching visdom's front-end files as npm packages (pinned versions)")
    try:
        install_from_npm(folder, timeout=npm_timeout)
    except UserError as exc:
        errors.append(str(exc))
    if frontend_status(folder).complete:
        return "npm"
    raise UserError(f"visdom's front-end files are missing ({'; '.join(errors)}); {WHAT_TO_DO}")


def install_from_npm(folder: Path, timeout: float = 300.0) -> None:
    """Fetch every package of VENDOR_FILES once and unpack the listed files into ``folder``."""
    specs = list(dict.fromkeys(spec for spec, _, _ in VENDOR_FILES))
    with tempfile.TemporaryDirectory(prefix="cyclegan-npm-") as tmp:
        tarballs = _fetch_tarballs(specs, Path(tmp), timeout)
        for spec, member, destination in VENDOR_FILES:
            _extract_member(tarballs[spec], member, folder / destination)
    import visdom
    # visdom's own downloader re-fetches everything unless this marker names its version.
    (folder / "version.built").write_text(visdom.__version__)


def _fetch_tarballs(specs: list[str], into: Path, timeout: float) -> dict[str, Path]:
    npm = shutil.which("npm")
    if npm:
        try:
            subprocess.run([npm, "pack", "--silent", *specs], cwd=into, check=True, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except subprocess.TimeoutExpired:
            raise UserError(f"`npm pack` did not finish within {timeout:.0f} s") from None
        except subprocess.CalledProcessError as exc:
            last = (exc.stderr or "").strip().splitlines()
            raise UserError(f"`npm pack` failed: {last[-1] if last else exc.returncode}") from None
    else:
        registry = _registry_from_npm_config()
        if registry is None:
            raise UserError("npm is not installed and no npm registry is configured "
                            "(NPM_CONFIG_REGISTRY or registry= in ~/.npmrc)")
        for spec in specs:
            name, version = spec.rsplit("@", 1)
            url = f"{registry.rstrip('/')}/{name}/-/{name.split('/')[-1]}-{version}.tgz"
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    (into / _tarball_name(spec)).write_bytes(response.read())
            except OSError as exc:
                raise UserError(f"cannot fetch {url}: {exc}") from None
    found = {}
    for spec in specs:
        path = into / _tarball_name(spec)
        if not path.is_file():
            raise UserError(f"npm did not produce {path.name}")
        found[spec] = path
    return found


def _tarball_name(spec: str) -> str:
    name, version = spec.rsplit("@", 1)
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def _extract_member(tarball: Path, member: str, destination: Path) -> None:
    """Copy one file out of an npm tarball (entries live under ``package/``) to ``destination``.

    Only the named member is read and the destination name is ours, so a hostile archive can
    neither write outside the static folder nor plant links.
    """
    with tarfile.open(tarball, "r:gz") as archive:
        try:
            info = archive.getmember(f"package/{member}")
        except KeyError:
            raise UserError(f"{tarball.name} has no file {member}") from None
        if not info.isfile():
            raise UserError(f"{tarball.name}: {member} is not a regular file")
        data = archive.extractfile(info).read()
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, destination)


def _registry_from_npm_config() -> str | None:
    if os.environ.get("NPM_CONFIG_REGISTRY") or os.environ.get("npm_config_registry"):
        return os.environ.get("NPM_CONFIG_REGISTRY") or os.environ.get("npm_config_registry")
    for rc in (Path.cwd() / ".npmrc", Path.home() / ".npmrc"):
        if rc.is_file():
            match = re.search(r"^\s*registry\s*=\s*(\S+)", rc.read_text(errors="replace"), re.M)
            if match:
                return match.group(1)
    return None


def _reachable(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except Exception:
        return False
