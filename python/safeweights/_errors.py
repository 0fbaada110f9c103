"""SafetensorError and one subclass per error code of the C++ core.

The classes are made from the core's own list (``errc`` in
``include/safeweights/error.hpp``), so Python and C++ name every failure
the same way: ``e.code`` is the core's code name (``"offsets_not_contiguous"``)
and ``str(e)`` its message, naming the file, the tensor and the value.
"""

from . import _core


class SafetensorError(Exception):
    """Any error from safeweights (the reference package's exception name).

    ``code`` is the C++ core's error code name; subclasses exist for each.
    """

    code = "unknown_error"
    __module__ = "safeweights"


def _class_name(code):
    return "".join(part.capitalize() for part in code.split("_")) + "Error"


# Codes that are also a standard Python exception, so ``except OSError`` and
# ``except ValueError`` keep working for code written against either package.
_ALSO = {
    "io_error": (OSError,),
    "write_failed": (OSError,),
    "invalid_argument": (ValueError,),
}

ERRORS = {}
for _code in _core.error_codes():
    if _code == "ok":
        continue
    _cls = type(_class_name(_code), (SafetensorError,) + _ALSO.get(_code, ()),
                {"code": _code, "__module__": "safeweights", "__doc__": f"The core's errc::{_code}."})
    ERRORS[_code] = _cls
    globals()[_cls.__name__] = _cls


class FileNotFoundSafetensorError(ERRORS["io_error"], FileNotFoundError):
    """A file that does not exist (io_error, and FileNotFoundError as in the reference)."""

    __module__ = "safeweights"


def _error_for(code, message, missing=False):
    """Called by the extension: the exception to raise for a core error."""
    if missing:
        return FileNotFoundSafetensorError(message)
    return ERRORS.get(code, SafetensorError)(message)


def error(code, message):
    """An exception of the core's class for ``code``, raised by the Python layer's own checks."""
    return ERRORS[code](message)
