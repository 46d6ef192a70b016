"""Data: domain resolution, image decoding, preprocessing and the unaligned dataset."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import DataConfig
from ..errors import UserError
from .domains import Domain, resolve_dataroot, resolve_domain, train_images
from .images import readable_images, shown
from .transforms import Preprocess, check_one_size
from .unaligned import RunLoader, UnalignedDataset, batches_per_epoch


@dataclass
class TrainingData:
    domain_A: Domain
    domain_B: Domain
    dataset: UnalignedDataset


def resolve_domains(data: DataConfig) -> tuple[Domain, Domain]:
    """Domains A and B; with ``--direction BtoA`` they trade places, as in the reference (its G_A
    then learns B -> A)."""
    if data.dataroot:
        if data.domainA or data.domainB:
            raise UserError("use either --dataroot or --domainA/--domainB, not both")
        domains = resolve_dataroot(data.dataroot, data.phase)
    elif not (data.domainA and data.domainB):
        raise UserError("name both domains: --domainA NAME --domainB NAME (or --dataroot DIR, or --demo)")
    else:
        domains = (resolve_domain(data.domainA, data.datasets_dir, "--domainA"),
                   resolve_domain(data.domainB, data.datasets_dir, "--domainB"))
    return domains[::-1] if data.direction == "BtoA" else domains


def load_training_data(data: DataConfig) -> TrainingData:
    preprocess = Preprocess(data.preprocess, data.load_size, data.crop_size, flip=not data.no_flip)
    domain_A, domain_B = resolve_domains(data)
    sides = []
    for domain, option in ((domain_A, "--domainA"), (domain_B, "--domainB")):
        paths = readable_images(train_images(domain, option)[:data.max_dataset_size], f"{option} {domain.train_dir}")
        if not paths:
            raise UserError(f"{option}: none of the images in {domain.train_dir} can be read; "
                            "add .jpg/.png files that open in an image viewer")
        check_one_size(paths, preprocess, data.batch_size, f"{option} {shown(domain.train_dir)}")
        sides.append(paths)
    if data.batch_size < 1:
        raise UserError(f"--batch_size {data.batch_size} must be at least 1")
    dataset = UnalignedDataset(sides[0], sides[1], preprocess, serial_batches=data.serial_batches)
    return TrainingData(domain_A, domain_B, dataset)


__all__ = ["TrainingData", "load_training_data", "resolve_domains", "Preprocess", "UnalignedDataset",
           "RunLoader", "batches_per_epoch"]
