"""Mistake (of layout): the file trains a model when imported, so importing it takes minutes.

The engine itself is good.py's; the training loop should sit under
`if __name__ == "__main__":`.
"""

import time

from good import Value as Good


class Value(Good):
    pass


steps = 0
while steps < 10**9:  # a long training run at import time
    time.sleep(0.01)
    steps += 1
