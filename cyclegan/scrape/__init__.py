"""Building image domains from the web: providers, careful downloads, hygiene, manifest.

    from cyclegan.scrape import ScrapeOptions, scrape
    summary = scrape(ScrapeOptions("forest", query="forest", provider="bing", limit=200))
    print(summary.line())
"""
from .fetch import FetchSettings
from .run import ScrapeOptions, Summary, scrape
from .store import MANIFEST, read_manifest

__all__ = ["FetchSettings", "ScrapeOptions", "Summary", "scrape", "MANIFEST", "read_manifest"]
