"""Not a mistake people make often, but the checker must survive it: log() loops forever."""

from good import Value as Good


class Value(Good):
    def log(self):
        while True:  # e.g. a Newton iteration that never meets its stopping test
            pass
