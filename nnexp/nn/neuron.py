"""The tutorial's single neuron (victorzhou.com, "Machine Learning for Beginners: An
Introduction to Neural Networks"): weighted sum plus bias, through a sigmoid."""

from __future__ import annotations

import numpy as np


def _sigmoid(x):
    # the tutorial's formula, verbatim
    return 1 / (1 + np.exp(-x))


class Neuron:
    """``Neuron(np.array([0, 1]), 4).feedforward(np.array([2, 3]))`` -> 0.9990889488055994."""

    def __init__(self, weights, bias) -> None:
        self.weights = np.asarray(weights)
        self.bias = bias

    def feedforward(self, inputs):
        total = np.dot(self.weights, np.asarray(inputs)) + self.bias
        return _sigmoid(total)
