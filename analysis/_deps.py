"""_deps - makes sure the libraries the analysis package reads and draws with
(numpy, h5py, pandas, matplotlib, scikit-image) can be imported.

scripts/setup.sh installs them as Debian packages, built for Debian's
python3 (/usr/bin/python3). Another interpreter of the same Python version
(pyenv's, a virtual environment) can use them too: when one of them is
missing from it, Debian's package folder is added to the end of sys.path,
but only if Debian's compiled modules match this interpreter. Otherwise the
import fails with one message saying what to do.
"""
import glob
import importlib.util
import os
import sys
import sysconfig

NEEDED = ("numpy", "h5py", "pandas", "matplotlib", "skimage")
DEBIAN = "/usr/lib/python3/dist-packages"


def _missing():
    return [m for m in NEEDED if importlib.util.find_spec(m) is None]


def _debian_matches():
    """Debian's numpy was compiled for this interpreter's ABI."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ""
    return bool(suffix) and bool(glob.glob(os.path.join(DEBIAN, "numpy", "core", "*" + suffix)))


def ensure():
    missing = _missing()
    if missing and os.path.isdir(DEBIAN) and DEBIAN not in sys.path and _debian_matches():
        sys.path.append(DEBIAN)
        importlib.invalidate_caches()
        missing = _missing()
    if missing:
        raise ImportError("the analysis package needs %s, which %s cannot import: run scripts/setup.sh "
                          "(Debian's python3-h5py, -pandas, -matplotlib, -skimage) and use Debian's "
                          "python3 (/usr/bin/python3)" % (", ".join(missing), sys.executable))
