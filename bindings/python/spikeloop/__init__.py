"""spikeloop -- Python bindings of the spikeloop library.

The compiled extension (spikeloop._core) wraps the C library libspikeloop:
configurations, sessions (build, simulate, train with a per-epoch callback,
evaluate), run logs, compute-in-memory crossbars and CAMs, chip
characterisation, fits and calibration. NumPy arrays go in and out; library
errors raise spikeloop.Error subclasses carrying the library's message.

The pure-Python parts (spikeloop.plot) do not need the extension: if it is
missing (not built, or not on the path) `import spikeloop` still works and
using anything of the extension raises ImportError saying why.
"""

try:
    from . import _core
except ImportError as _e:  # not built: keep pure-Python submodules usable
    _core = None
    _core_error = _e
else:
    _core_error = None
    from ._core import *  # noqa: F401,F403
    from ._core import (Config, Session, RunLog, RunLogReader, Error, ClosedError,  # noqa: F401
                        InvalidArgument, OutOfMemory, FileError, FormatError, NotFoundError,
                        ShapeError, NumericError, UnsupportedError, RangeError)
    from .run import run_train  # noqa: F401

__version__ = _core.version() if _core is not None else "unknown"


def __getattr__(name):
    if name in ("plot", "run"):  # submodules: `from spikeloop import plot` imports them
        raise AttributeError(name)
    if _core is None and not name.startswith("__"):
        raise ImportError(
            f"spikeloop.{name} needs the compiled extension spikeloop._core, which could not "
            f"be imported ({_core_error}); build with `./configure --enable-python && make` "
            "and put bindings/python of the build tree on PYTHONPATH")
    raise AttributeError(f"module 'spikeloop' has no attribute '{name}'")
