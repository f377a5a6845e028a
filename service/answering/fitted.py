"""The reader's fitted models: what `models/reader.json` holds and how a row of signals becomes P(yes).

Three kinds, chosen per model by `make train` by cross-validation over months:

* `Logistic` — standardised features, one weight each, fitted by Newton's method in numpy (deterministic),
  either row by row or, for a choice within groups (the span model), by conditional likelihood;
* `Trees` — gradient-boosted decision trees fitted by scikit-learn's `HistGradientBoostingClassifier`
  (seeded, no early stopping: deterministic), exported to plain JSON arrays and evaluated here in numpy.
  Trees learn what a linear model cannot: that coverage matters more when similarity is middling, that
  a typed entity counts only close to the question's words;
* `Blend` — the mean of the two: the trees' gain where questions are like the training ones, the
  logistic model's smoothness where they are not.

Why our own evaluation of the trees instead of a pickled scikit-learn estimator: a pickle ties the
artifact to one scikit-learn version and runs code when loaded; the JSON arrays are a few hundred
kilobytes that any version reads, and serving needs no scikit-learn at all. `Trees.fit` checks that
this evaluation equals scikit-learn's own predictions on the training rows before it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


@dataclass
class Logistic:
    """A fitted logistic model: standardisation and weights per named feature."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float

    def predict(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale)
        out: np.ndarray = 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.weights) + self.bias)))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"kind": "logistic", **self.__dict__}  # its fields only

    @staticmethod
    def fit(features: list[str], rows: np.ndarray, labels: np.ndarray, l2: float = 1.0) -> Logistic:
        """L2-regularised logistic regression by Newton's method (deterministic, no randomness)."""
        mean = rows.mean(axis=0)
        scale = rows.std(axis=0)
        scale[scale < 1e-9] = 1.0
        x = np.hstack([(rows - mean) / scale, np.ones((len(rows), 1))])
        w = np.zeros(x.shape[1])
        penalty = np.full(x.shape[1], l2)
        penalty[-1] = 0.0
        for _ in range(50):
            p = 1.0 / (1.0 + np.exp(-(x @ w)))
            grad = x.T @ (p - labels) + penalty * w
            hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        return Logistic(features, mean.tolist(), scale.tolist(), w[:-1].tolist(), float(w[-1]))

    @staticmethod
    def fit_grouped(
        features: list[str], rows: np.ndarray, labels: np.ndarray, sizes: list[int], l2: float = 1.0
    ) -> Logistic:
        """A logistic model for a choice within groups (the spans of one sentence): the weights maximise
        the likelihood of a group's right rows under a softmax over the group (a conditional logit, by
        Newton's method from zero; groups with no right row are left out), then one scale and a bias
        are fitted over the rows of those groups, so that the result is P(right | the group holds a
        right row), like `fit`'s on the same rows. The pointwise fit spends its weights on telling
        answers from the many spans no sentence would offer; this one only on what separates the right
        span from its neighbours."""
        mean = rows.mean(axis=0)
        scale = rows.std(axis=0)
        scale[scale < 1e-9] = 1.0
        x = (rows - mean) / scale
        bounds = np.cumsum([0, *sizes])
        groups = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if labels[a:b].sum() > 0]
        if not groups:
            raise ValueError("no group has a right row to learn the choice from")
        w = np.zeros(x.shape[1])
        for _ in range(50):
            grad, hess = l2 * w, np.diag(np.full(len(w), l2 + 1e-9))
            for a, b in groups:
                xg = x[a:b]
                p = np.exp(xg @ w - (xg @ w).max())
                p /= p.sum()
                q = p * labels[a:b]  # the softmax's share among the group's right rows
                grad = grad + xg.T @ (p - q / q.sum())
                m = xg.T @ p
                hess = hess + (xg * p[:, None]).T @ xg - np.outer(m, m)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        inside = np.concatenate([np.arange(a, b) for a, b in groups])  # rows of groups with a right row
        score = x[inside] @ w
        calibration = Logistic.fit(["score"], score[:, None], labels[inside], l2=0.0)
        a = calibration.weights[0] / calibration.scale[0]
        bias = calibration.bias - a * calibration.mean[0]
        return Logistic(features, mean.tolist(), scale.tolist(), (a * w).tolist(), float(bias))


@dataclass
class Trees:
    """Gradient-boosted trees: P = sigmoid(baseline + the sum of each tree's leaf value).

    Each tree is five parallel lists over its nodes: the feature tested, the threshold (a row goes left
    when its value is at most the threshold), the left and right child, and the value (read at leaves,
    where the feature is -1). The values already carry the learning rate."""

    features: list[str]
    baseline: float
    trees: list[dict[str, list[Any]]]

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """All trees walked at once, a level at a time: one numpy step per level, not per tree and node."""
        if len(rows) == 0:
            return np.zeros(0)
        feature, threshold, left, right, value, roots = self._packed
        node = np.tile(roots, (len(rows), 1))  # rows x trees: where each row stands in each tree
        at = np.arange(len(rows))[:, None]
        while True:
            f = feature[node]
            inner = f >= 0
            if not inner.any():
                break
            go_left = rows[at, np.where(inner, f, 0)] <= threshold[node]
            node = np.where(inner, np.where(go_left, left[node], right[node]), node)
        out: np.ndarray = 1.0 / (1.0 + np.exp(-(self.baseline + value[node].sum(axis=1))))
        return out

    @cached_property
    def _packed(self) -> tuple[np.ndarray, ...]:
        """The trees' nodes in one set of arrays, children as indices into them, and each tree's root."""
        offsets = np.cumsum([0] + [len(t["feature"]) for t in self.trees[:-1]])
        feature = np.concatenate([np.asarray(t["feature"], dtype=np.int64) for t in self.trees])
        threshold = np.concatenate([np.asarray(t["threshold"], dtype=np.float64) for t in self.trees])
        left = np.concatenate(
            [np.asarray(t["left"], dtype=np.int64) + o for t, o in zip(self.trees, offsets, strict=True)]
        )
        right = np.concatenate(
            [np.asarray(t["right"], dtype=np.int64) + o for t, o in zip(self.trees, offsets, strict=True)]
        )
        value = np.concatenate([np.asarray(t["value"], dtype=np.float64) for t in self.trees])
        return feature, threshold, left, right, value, offsets.astype(np.int64)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "trees", "features": self.features, "baseline": self.baseline, "trees": self.trees}

    @staticmethod
    def fit(
        features: list[str], rows: np.ndarray, labels: np.ndarray, *, rounds: int = 100, leaves: int = 7,
        rate: float = 0.05, min_leaf: int = 200, seed: int = 0,
    ) -> Trees:  # fmt: skip
        """Fit with scikit-learn (a training-time dependency only) and export the trees.

        The defaults are small, heavily regularised trees. With 300 rounds of 15 leaves of at least 40 rows
        the reader ranked the right sentence first for 0.91 of its training questions but 0.59 of held-out
        ones; at these settings 0.68 held out (cross-validated over months, one label table for all
        folds), with 150-200 rounds, 5-15 leaves and 100-400 rows a leaf within about a point of it and
        60 rounds behind (lead 0.509 against 0.538)."""

        from sklearn.ensemble import HistGradientBoostingClassifier

        clf = HistGradientBoostingClassifier(
            max_iter=rounds, learning_rate=rate, max_leaf_nodes=leaves, min_samples_leaf=min_leaf,
            l2_regularization=1.0, early_stopping=False, random_state=seed,
        )  # fmt: skip
        clf.fit(rows, labels.astype(int))
        trees: list[dict[str, list[Any]]] = []
        for (predictor,) in clf._predictors:
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            trees.append({
                "feature": [-1 if end else int(f) for f, end in zip(nodes["feature_idx"], leaf, strict=True)],
                "threshold": [float(t) for t in nodes["num_threshold"]],
                "left": [int(n) for n in nodes["left"]],
                "right": [int(n) for n in nodes["right"]],
                "value": [float(v) for v in nodes["value"]],
            })  # fmt: skip
        model = Trees(features, float(np.ravel(clf._baseline_prediction)[0]), trees)
        ours, theirs = model.predict(rows), clf.predict_proba(rows)[:, 1]
        if not np.allclose(ours, theirs, atol=1e-6):
            raise AssertionError(f"exported trees differ from scikit-learn by {np.abs(ours - theirs).max()}")
        return model


@dataclass
class Blend:
    """The mean of a logistic model's and boosted trees' probabilities over the same features.

    Trees are piecewise constant: on questions unlike any they were fitted on (the seeds' "how did
    lawmakers describe ...") they can score a sentence by an accident of a split, where the logistic
    model's smooth weights degrade gently; the mean keeps most of the trees' gain on news."""

    logistic: Logistic
    trees: Trees

    @property
    def features(self) -> list[str]:
        return self.logistic.features

    def predict(self, rows: np.ndarray) -> np.ndarray:
        out: np.ndarray = 0.5 * (self.logistic.predict(rows) + self.trees.predict(rows))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"kind": "blend", "logistic": self.logistic.to_json(), "trees": self.trees.to_json()}

    @staticmethod
    def fit(features: list[str], rows: np.ndarray, labels: np.ndarray) -> Blend:
        return Blend(Logistic.fit(features, rows, labels), Trees.fit(features, rows, labels))


Fitted = Logistic | Trees | Blend


def fit(
    kind: str, features: list[str], rows: np.ndarray, labels: np.ndarray, sizes: list[int] | None = None
) -> Fitted:
    """A model of `kind` ("logistic", "grouped", "trees" or "blend") fitted with its defaults; "grouped"
    (`Logistic.fit_grouped`) needs the sizes of the consecutive groups of rows a choice is made within."""
    if kind == "grouped":
        if sizes is None:
            raise ValueError("a grouped model needs the sizes of its groups")
        return Logistic.fit_grouped(features, rows, labels, sizes)
    kinds: dict[str, Any] = {"logistic": Logistic.fit, "trees": Trees.fit, "blend": Blend.fit}
    model: Fitted = kinds[kind](features, rows, labels)
    return model


def load(data: dict[str, Any]) -> Fitted:
    """A fitted model from its JSON form (an artifact without `kind` is logistic: older files)."""
    if data.get("kind") == "blend":
        return Blend(Logistic(**_fields(data["logistic"])), Trees(**_fields(data["trees"])))
    if data.get("kind") == "trees":
        return Trees(**_fields(data))
    return Logistic(**_fields(data))


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "kind"}
