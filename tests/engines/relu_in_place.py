"""Mistake: relu clamps its operand in place (self.data = max(self.data, 0)) before making
its result, so a.relu() changes a: the operand of an op must stay as it was."""

from good import Value as Good


class Value(Good):
    def relu(self):
        self.data = max(self.data, 0.0)  # should leave self alone
        return self._unary(self.data, "relu", lambda x, y: 1.0 if x > 0 else 0.0)
