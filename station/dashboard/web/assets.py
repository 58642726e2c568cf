"""The front-end library the dashboard serves beside its own files: uPlot, for the client
page's charts.

Fetched from npm at build or install time by ``scripts/fetch-npm-assets.sh`` (pinned by
version and integrity there; a test holds `UPLOT_VERSION` to that pin), never kept in the
repository, and served as the files are: no Node.js at run time. Where the files are missing
the pages show their tables and say how to install the charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.staticfiles import StaticFiles

UPLOT_VERSION = "1.6.32"
UPLOT_FILES = ("uPlot.iife.min.js", "uPlot.min.css")
URL_PREFIX = "/vendor/uplot"


@dataclass(frozen=True)
class ChartAssets:
    """uPlot's files in `assets_dir` (``uplot-<version>/dist/``), if they are there."""

    assets_dir: Path | None

    @property
    def folder(self) -> Path | None:
        if self.assets_dir is None:
            return None
        return self.assets_dir / f"uplot-{UPLOT_VERSION}" / "dist"

    @property
    def available(self) -> bool:
        """Asked on every page that charts (two stat calls), so files fetched while the
        dashboard runs are used without a restart."""
        folder = self.folder
        return folder is not None and all((folder / name).is_file() for name in UPLOT_FILES)

    @property
    def install_command(self) -> str:
        """What installs the charts, for the page that has none."""
        target = f" {self.assets_dir}" if self.assets_dir is not None else ""
        return f"scripts/fetch-npm-assets.sh{target} uplot"


class OptionalFiles(StaticFiles):
    """Static files from a folder that may not exist (yet): 404 for every file then, where
    Starlette's own would fail the request. Files fetched later are served without a
    restart."""

    async def check_config(self) -> None:
        return None
