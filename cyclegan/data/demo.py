"""Built-in offline demo: two small image domains made from bundled photos.

CycleGAN needs two unpaired image folders.  So that the toolkit can be tried
without downloading anything, this module builds them from the real photos
that ship inside scikit-image (astronaut, chelsea, coffee, rocket,
hubble_deep_field, retina, immunohistochemistry) and scikit-learn (china,
flower).  Any photo that cannot be loaded offline is skipped.

Domains (written under ``datasets_dir``)::

    demo_photos/    train/00000.png ...   random crops of the photos
                    test/00000.png  ...   held-out crops of the photos
    demo_paintings/ train/00000.png ...   crops of OTHER regions, stylised
                    test/00000.png  ...   exactly stylise(demo_photos/test/<same name>)

How the photos are split, so that the two domains are truly unpaired and the
test crops were never seen during training in either domain: each photo is
cut along its longer axis into three bands,

    [ band 1 | test band (crop_size wide) | band 2 ]

One outer band feeds domain A's train crops and the other feeds domain B's
(which one alternates from photo to photo so both domains see both sides of
the pictures); the middle band feeds the test crops.  Crops never straddle a
band boundary, so train A, train B and test pixels never overlap.

The test split of domain B is the ground truth: same file names as A's test
images and pixel-exact ``stylise`` outputs (PNG is lossless), so the PSNR of
a model's A->B translation against it can be computed by matching names.

The build is idempotent (a marker file records the parameters), refuses to
touch folders it did not create, and builds into a temporary sibling folder
that is renamed into place only when complete.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable

import numpy as np
from PIL import Image

from cyclegan.errors import UserError
from cyclegan.data.known_pairs import painterly

DEMO_DOMAIN_A = "demo_photos"
DEMO_DOMAIN_B = "demo_paintings"
MARKER = ".cyclegan-demo.json"  # written inside each domain folder we create

# Bump whenever the photos, the split or the stylisation change, so that old
# demo folders are rebuilt instead of silently reused.
DEMO_VERSION = 2

_SKIMAGE_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "retina",
    "immunohistochemistry",
)


# --------------------------------------------------------------------------
# Stylisation
# --------------------------------------------------------------------------


def stylise(image: Image.Image) -> Image.Image:
    """Turn a photo into a "painting" with a fixed, deterministic transform.

    RGB in, RGB out, same size; the same input always gives identical bytes. It is the quality
    suite's ``painterly`` pair at full strength (``cyclegan.data.known_pairs.painterly``): a 3x3
    median filter (fine texture flattened into strokes), a warm ochre palette, saturation, a
    gamma lift and a canvas ground. The untranslated photo is about 13-14 dB from its painting,
    so a translation that scores clearly above that has learned the painting.

    Until DEMO_VERSION 2 the demo used a mild warm tint (about 17 dB from the photo): a
    generator that barely moved the photo scored well on it, which hid runs that learned the
    identity.
    """
    return painterly(image, 1.0)


# --------------------------------------------------------------------------
# Source photos
# --------------------------------------------------------------------------


def _to_rgb_image(array: np.ndarray) -> Image.Image:
    """Convert a bundled photo array (grey, RGB or RGBA) into an RGB image."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        # Float photos are in [0, 1]; scale them rather than truncating.
        array = np.clip(np.round(array.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return Image.fromarray(array[..., :3]).convert("RGB")


def _read_rgb(path: pathlib.Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _sklearn_loaders() -> list[tuple[str, Callable[[], np.ndarray]]]:
    """Loaders for scikit-learn's sample photos (china, flower).

    Importing ``sklearn.datasets`` takes about a second, more than the whole
    rest of the build, so the two JPEGs are read straight from the installed
    package when they are where scikit-learn keeps them (find_spec locates
    the package without importing it); otherwise fall back to the public
    ``load_sample_images``.
    """
    try:
        spec = importlib.util.find_spec("sklearn")
        roots = list(spec.submodule_search_locations or []) if spec else []
    except Exception:  # noqa: BLE001 - treat as "not found here"
        roots = []
    for root in roots:
        files = [pathlib.Path(root, "datasets", "images", f"{name}.jpg") for name in ("china", "flower")]
        if all(path.is_file() for path in files):
            return [(path.stem, lambda path=path: _read_rgb(path)) for path in files]
    try:
        from sklearn.datasets import load_sample_images

        samples = load_sample_images()
    except Exception:  # noqa: BLE001 - no scikit-learn photos then
        return []
    return [
        (pathlib.Path(filename).stem, lambda array=array: array)
        for filename, array in zip(samples.filenames, samples.images)
    ]


def _load_photos() -> list[tuple[str, Image.Image]]:
    """Return (name, RGB image) for every bundled photo that loads offline.

    Some scikit-image photos are downloaded on demand with pooch in some
    versions; any failure (no pooch, no network, missing file) just skips
    that photo, because the demo works with whatever subset is available.
    """
    loaders: list[tuple[str, Callable[[], np.ndarray]]] = []
    try:
        import skimage.data

        for name in _SKIMAGE_PHOTOS:
            loader = getattr(skimage.data, name, None)
            if loader is not None:
                loaders.append((name, loader))
    except Exception:  # noqa: BLE001 - any import problem means "no skimage photos"
        pass
    loaders.extend(_sklearn_loaders())

    photos = []
    for name, loader in loaders:
        try:
            photos.append((name, _to_rgb_image(loader())))
        except Exception:  # noqa: BLE001 - a photo that fails to load is skipped
            continue
    return photos


def _fit_to_crop(photo: Image.Image, crop_size: int) -> Image.Image:
    """Rescale a photo so the three-band split fits and crops show objects.

    Large photos are shrunk so the short side is about 4 crops, so a crop
    shows recognisable structure rather than a patch of texture.  Photos
    too small for the split (short side < crop, long side < 3 crops) are
    upscaled just enough.  Otherwise the photo is left at its own size.
    """
    short, long = sorted(photo.size)
    scale = min(1.0, 4 * crop_size / short)
    scale = max(scale, crop_size / short, 3 * crop_size / long)
    if abs(scale - 1.0) < 1e-9:
        return photo
    width, height = photo.size
    # ceil so that rounding can never leave a side one pixel too short.
    new_size = (int(np.ceil(width * scale)), int(np.ceil(height * scale)))
    return photo.resize(new_size, Image.Resampling.LANCZOS)


# A region is (left, top, right, bottom) in pixels, like PIL's box.
Box = tuple[int, int, int, int]


def _split_bands(size: tuple[int, int], crop_size: int) -> tuple[Box, Box, Box]:
    """Split an image into (outer band 1, test band, outer band 2).

    The cut runs across the longer axis; the test band is exactly one crop
    wide and sits between the two outer bands, which share the rest.
    """
    width, height = size
    long = max(width, height)
    first = (long - crop_size) // 2
    cuts = [(0, first), (first, first + crop_size), (first + crop_size, long)]
    if width >= height:
        return tuple((a, 0, b, height) for a, b in cuts)  # type: ignore[return-value]
    return tuple((0, a, width, b) for a, b in cuts)  # type: ignore[return-value]


def _random_crop(photo: Image.Image, box: Box, crop_size: int, rng: np.random.Generator) -> Image.Image:
    """A crop_size square at a random position fully inside ``box``."""
    left, top, right, bottom = box
    x = left + int(rng.integers(0, right - left - crop_size + 1))
    y = top + int(rng.integers(0, bottom - top - crop_size + 1))
    return photo.crop((x, y, x + crop_size, y + crop_size))


def _make_crops(
    photos: list[Image.Image], crop_size: int, count: int, band: str, seed: int
) -> list[Image.Image]:
    """``count`` random crops from one band role ("A", "B" or "test").

    Crops go round-robin over the photos so every photo is represented
    evenly.  Each role has its own random stream, so changing n_test does
    not change the training crops and vice versa.
    """
    role_ids = {"A": 0, "B": 1, "test": 2}
    rng = np.random.default_rng([seed, role_ids[band]])
    crops = []
    for i in range(count):
        index = i % len(photos)
        photo = photos[index]
        band_a, band_test, band_b = _split_bands(photo.size, crop_size)
        if index % 2 == 1:
            # Alternate which side is A's so both domains see both sides.
            band_a, band_b = band_b, band_a
        box = {"A": band_a, "B": band_b, "test": band_test}[band]
        crops.append(_random_crop(photo, box, crop_size, rng))
    return crops


# --------------------------------------------------------------------------
# Folders, marker and idempotency
# --------------------------------------------------------------------------


def _file_names(count: int) -> list[str]:
    return [f"{i:05d}.png" for i in range(count)]


def _build_params(crop_size: int, n_train: int, n_test: int, seed: int, transform_id: str | None = None) -> dict:
    params = {
        "version": DEMO_VERSION,
        "crop_size": crop_size,
        "n_train": n_train,
        "n_test": n_test,
        "seed": seed,
    }
    if transform_id is not None:   # absent for the demo's own stylisation: older demo folders stay valid
        params["transform"] = transform_id
    return params


def _read_marker(domain_dir: pathlib.Path) -> dict | None:
    """The marker's content, {} if it is ours but unreadable, None if absent."""
    marker = domain_dir / MARKER
    if not marker.is_file():
        return None
    try:
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # ours but damaged: treat as stale so it gets rebuilt
    return content if isinstance(content, dict) else {}


def _check_not_user_folder(domain_dir: pathlib.Path) -> None:
    """Refuse to go near a folder of our name that we did not create."""
    if domain_dir.exists() and (not domain_dir.is_dir() or _read_marker(domain_dir) is None):
        raise UserError(
            f"{domain_dir} already exists and was not created by the demo; "
            "move it away or use --datasets-dir to build the demo elsewhere"
        )


def _is_complete(domain_dir: pathlib.Path, params: dict) -> bool:
    """True when the folder holds a finished build with exactly these params."""
    marker = _read_marker(domain_dir)
    if marker is None or marker.get("params") != params:
        return False
    for split, count in (("train", params["n_train"]), ("test", params["n_test"])):
        split_dir = domain_dir / split
        if not all((split_dir / name).is_file() for name in _file_names(count)):
            return False
    return True


def _write_domain(
    staging_dir: pathlib.Path, train: list[Image.Image], test: list[Image.Image], params: dict, domain: str
) -> None:
    """Write the images, then the marker last: a marker means 'complete'."""
    for split, images in (("train", train), ("test", test)):
        split_dir = staging_dir / split
        split_dir.mkdir(parents=True)
        for name, image in zip(_file_names(len(images)), images):
            image.save(split_dir / name, format="PNG")
    marker = {"params": params, "domain": domain, "note": "built by cyclegan.data.demo; safe to delete"}
    (staging_dir / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _swap_into_place(staging_dir: pathlib.Path, domain_dir: pathlib.Path) -> None:
    """Replace ``domain_dir`` (ours, or absent) with the finished staging folder.

    The old folder is renamed aside first because a directory rename cannot
    overwrite a non-empty directory; it is deleted only after the swap.
    """
    old_dir = None
    if domain_dir.exists():
        old_dir = pathlib.Path(tempfile.mkdtemp(dir=domain_dir.parent, prefix=f".{domain_dir.name}.old-"))
        old_dir.rmdir()  # we only wanted a unique name
        os.replace(domain_dir, old_dir)
    os.replace(staging_dir, domain_dir)
    if old_dir is not None:
        shutil.rmtree(old_dir, ignore_errors=True)


def build_demo_domains(
    datasets_dir: pathlib.Path | str,
    *,
    crop_size: int = 96,
    n_train: int = 60,
    n_test: int = 8,
    seed: int = 0,
    transform: Callable[[Image.Image], Image.Image] | None = None,
    transform_id: str | None = None,
) -> tuple[pathlib.Path, pathlib.Path]:
    """Create datasets_dir/demo_photos/{train,test}/ and datasets_dir/demo_paintings/{train,test}/ ; return the two domain folders.

    Does nothing if both folders are already complete builds with the same
    parameters.  Raises ``UserError`` if either name is taken by a folder
    the demo did not create.  Otherwise (re)builds both domains together,
    so that B's test images always match A's.

    ``transform`` replaces the demo's ``stylise`` (the quality suite's known-answer pairs);
    ``transform_id`` names it in the marker, so a folder built with another one is rebuilt.
    """
    if (transform is None) != (transform_id is None):
        raise ValueError("give transform and transform_id together")
    transform = transform or stylise
    if crop_size < 1 or n_train < 1 or n_test < 1:
        raise UserError("demo crop_size, n_train and n_test must all be at least 1")
    datasets_dir = pathlib.Path(datasets_dir)
    dir_a = datasets_dir / DEMO_DOMAIN_A
    dir_b = datasets_dir / DEMO_DOMAIN_B
    # Check both before touching either, so a refusal leaves everything as it was.
    _check_not_user_folder(dir_a)
    _check_not_user_folder(dir_b)

    params = _build_params(crop_size, n_train, n_test, seed, transform_id)
    if _is_complete(dir_a, params) and _is_complete(dir_b, params):
        return dir_a, dir_b

    photos = [_fit_to_crop(photo, crop_size) for _, photo in _load_photos()]
    if not photos:
        raise UserError("no demo photos could be loaded from scikit-image or scikit-learn")
    train_a = _make_crops(photos, crop_size, n_train, "A", seed)
    train_b = [transform(crop) for crop in _make_crops(photos, crop_size, n_train, "B", seed)]
    test_a = _make_crops(photos, crop_size, n_test, "test", seed)
    test_b = [transform(crop) for crop in test_a]

    datasets_dir.mkdir(parents=True, exist_ok=True)
    for domain_dir, train, test in ((dir_a, train_a, test_a), (dir_b, train_b, test_b)):
        # Build in a hidden sibling (same file system, so the rename is
        # atomic) and only rename it into place once the marker is written.
        staging_dir = pathlib.Path(tempfile.mkdtemp(dir=datasets_dir, prefix=f".{domain_dir.name}.building-"))
        try:
            _write_domain(staging_dir, train, test, params, domain_dir.name)
            _swap_into_place(staging_dir, domain_dir)
        finally:
            if staging_dir.exists():
                shutil.rmtree(staging_dir, ignore_errors=True)
    return dir_a, dir_b
