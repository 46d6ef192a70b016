"""Standard CycleGAN datasets (list, resumable verified download, safe unzip) and dataset hygiene.

    from cyclegan.datasets_tools import DownloadOptions, fetch_standard_dataset
    fetch_standard_dataset(DownloadOptions("horse2zebra", root=Path("datasets")))
"""
from .catalog import STANDARD_DATASETS, dataset_url
from .clean import CleanOptions, CleanReport, clean_domain
from .info import DatasetInfo, format_info, survey
from .safezip import ExtractLimits, safe_extract
from .standard import DownloadOptions, fetch_standard_dataset

__all__ = ["STANDARD_DATASETS", "dataset_url", "CleanOptions", "CleanReport", "clean_domain",
           "DatasetInfo", "format_info", "survey", "ExtractLimits", "safe_extract",
           "DownloadOptions", "fetch_standard_dataset"]
