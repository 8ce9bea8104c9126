"""analysis - load stylesweep sweep archives (hdf5/SCHEMA.md) into pandas,
plot them, compare their images and write an HTML report.

    import analysis
    a = analysis.open("demo.h5")
    print(a.runs)                      # one row per run, one column per parameter

The reference is the docstrings: analysis.archive.Archive (reading),
analysis.measures (SSIM and colour distance), analysis.plots (PNG plots),
analysis.grids (image grids), analysis.report (the HTML report). The command
line is `python3 -m analysis --help`.
"""
from . import _deps

_deps.ensure()

from .archive import Archive, ArchiveError, open  # noqa: A004, E402, F401

__all__ = ["Archive", "ArchiveError", "open"]
