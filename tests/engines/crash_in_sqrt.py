"""The checker must survive this: sqrt() kills the interpreter (a segfault via ctypes)."""

import ctypes

from good import Value as Good


class Value(Good):
    def sqrt(self):
        ctypes.string_at(0)  # reads address 0: SIGSEGV
