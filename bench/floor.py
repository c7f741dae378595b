"""The pure-float floor: each workload written with plain Python floats and a hand-written backward.

This is the code a careful person writes by hand for one fixed computation: lists of floats,
the forward pass as loops, the backward pass derived on paper and written as loops that
accumulate into gradient lists.  No graph objects, no code generation, no tricks an engine
could not be compared to.  Every engine's time is quoted as a multiple of it.
"""

from __future__ import annotations

from bench.workloads import MoonsProblem

__all__ = ["FloorMLP", "floor_chain", "floor_wide"]


class FloorMLP:
    """An MLP as lists of floats: ``W[l][j][k]``, ``b[l][j]``; ReLU on all layers but the last."""

    def __init__(self, problem: MoonsProblem) -> None:
        self.W = [[list(row) for row in W] for W, _ in problem.init_params]
        self.b = [list(b) for _, b in problem.init_params]
        self.problem = problem

    def step(self) -> float:
        """One SGD step on the SVM loss + α·L2: forward, hand-written backward, update."""
        W, b = self.W, self.b
        nlayers = len(W)
        dW = [[[0.0] * len(row) for row in Wl] for Wl in W]
        db = [[0.0] * len(bl) for bl in b]
        X, Y = self.problem.X, self.problem.y
        inv_n = 1.0 / len(X)
        data_loss = 0.0
        for x, y in zip(X, Y, strict=True):
            # forward: keep every layer's input and pre-activation for the backward pass
            inputs = []
            acts = []
            h = x
            for layer in range(nlayers):
                inputs.append(h)
                act = []
                for w_row, bias in zip(W[layer], b[layer], strict=True):
                    s = bias
                    for wk, hk in zip(w_row, h, strict=True):
                        s += wk * hk
                    act.append(s)
                acts.append(act)
                h = act if layer == nlayers - 1 else [a if a > 0.0 else 0.0 for a in act]
            margin = 1.0 - y * h[0]
            if margin > 0.0:
                data_loss += margin
            # backward: d relu(margin)/d score = -y where margin > 0 (else 0), scaled by 1/n;
            # every sample is backpropagated, as an engine does (no skipping of zeros)
            delta = [-y * inv_n if margin > 0.0 else 0.0]
            for layer in range(nlayers - 1, -1, -1):
                if layer != nlayers - 1:
                    act = acts[layer]
                    delta = [d if a > 0.0 else 0.0 for d, a in zip(delta, act, strict=True)]
                h = inputs[layer]
                dWl, dbl, Wl = dW[layer], db[layer], W[layer]
                dh = [0.0] * len(h)
                for j, d in enumerate(delta):
                    dbl[j] += d
                    row, drow = Wl[j], dWl[j]
                    for k, hk in enumerate(h):
                        drow[k] += d * hk
                        dh[k] += d * row[k]
                delta = dh
        alpha = self.problem.alpha
        reg = 0.0
        lr = self.problem.lr
        for Wl, bl, dWl, dbl in zip(W, b, dW, db, strict=True):
            for row, drow in zip(Wl, dWl, strict=True):
                for k, wk in enumerate(row):
                    reg += wk * wk
                    row[k] = wk - lr * (drow[k] + 2.0 * alpha * wk)
            for j, bj in enumerate(bl):
                reg += bj * bj
                bl[j] = bj - lr * (dbl[j] + 2.0 * alpha * bj)
        return data_loss * inv_n + alpha * reg


def floor_chain(n: int) -> float:
    """y ← y·1.0001 + 0.0001, n times, then dy/dy0 by the backward recurrence."""
    y = 1.0
    for _ in range(n):
        y = y * 1.0001 + 0.0001
    grad = 1.0
    for _ in range(n):
        grad = grad * 1.0001
    return grad


def floor_wide(ws: list[float], xs: list[float]) -> tuple[float, list[float], list[float]]:
    """s = Σ wᵢ·xᵢ and its gradients ∂s/∂wᵢ = xᵢ, ∂s/∂xᵢ = wᵢ."""
    s = 0.0
    for w, x in zip(ws, xs, strict=True):
        s += w * x
    dw = [0.0] * len(ws)
    dx = [0.0] * len(xs)
    for i, (w, x) in enumerate(zip(ws, xs, strict=True)):
        dw[i] += x
        dx[i] += w
    return s, dw, dx
