"""A literal transcription of the tutorial's 2-2-1 network (victorzhou.com, "Machine
Learning for Beginners: An Introduction to Neural Networks", ``OurNeuralNetwork``).

Scalar code, one weight at a time (w1..w6, b1..b3), per-sample SGD with
``d_L_d_ypred = -2 * (y_true - y_pred)``. It is the *reference* the engine is tested against
(same initial weights -> same final weights) and the per-sample baseline of the benchmark.
Only changes: weights come from a caller's Generator (``rng.normal()`` in the tutorial's
order w1..w6, b1..b3) instead of the global ``np.random.normal()``, ``learn_rate``/``epochs``
are arguments (defaults 0.1 and 1000), and the every-10-epochs loss print is collected in a
list (``log_every=None`` skips it).
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    # Sigmoid activation function: f(x) = 1 / (1 + e^(-x))
    return 1 / (1 + np.exp(-x))


def deriv_sigmoid(x):
    # Derivative of sigmoid: f'(x) = f(x) * (1 - f(x))
    fx = sigmoid(x)
    return fx * (1 - fx)


def mse_loss(y_true, y_pred):
    # y_true and y_pred are numpy arrays of the same length.
    return ((y_true - y_pred) ** 2).mean()


class TutorialNetwork:
    """2 inputs, a hidden layer of 2 sigmoid neurons (h1, h2), a sigmoid output neuron (o1)."""

    def __init__(self, rng: np.random.Generator | None = None, weights=None) -> None:
        if weights is not None:
            (self.w1, self.w2, self.w3, self.w4, self.w5, self.w6, self.b1, self.b2, self.b3) = (
                float(w) for w in weights
            )
            return
        rng = np.random.default_rng(rng)
        # Weights
        self.w1 = rng.normal()
        self.w2 = rng.normal()
        self.w3 = rng.normal()
        self.w4 = rng.normal()
        self.w5 = rng.normal()
        self.w6 = rng.normal()
        # Biases
        self.b1 = rng.normal()
        self.b2 = rng.normal()
        self.b3 = rng.normal()

    def feedforward(self, x):
        # x is a numpy array with 2 elements.
        h1 = sigmoid(self.w1 * x[0] + self.w2 * x[1] + self.b1)
        h2 = sigmoid(self.w3 * x[0] + self.w4 * x[1] + self.b2)
        o1 = sigmoid(self.w5 * h1 + self.w6 * h2 + self.b3)
        return o1

    def train(self, data, all_y_trues, learn_rate=0.1, epochs=1000, log_every=10):
        """- data is a (n x 2) numpy array, n = # of samples in the dataset.
        - all_y_trues is a numpy array with n elements.
        Elements in all_y_trues correspond to those in data.
        Returns [(epoch, loss), ...] every ``log_every`` epochs (the tutorial prints them)."""
        history = []
        for epoch in range(epochs):
            for x, y_true in zip(data, all_y_trues, strict=True):
                # --- Do a feedforward (we'll need these values later)
                sum_h1 = self.w1 * x[0] + self.w2 * x[1] + self.b1
                h1 = sigmoid(sum_h1)

                sum_h2 = self.w3 * x[0] + self.w4 * x[1] + self.b2
                h2 = sigmoid(sum_h2)

                sum_o1 = self.w5 * h1 + self.w6 * h2 + self.b3
                o1 = sigmoid(sum_o1)
                y_pred = o1

                # --- Calculate partial derivatives.
                # --- Naming: d_L_d_w1 represents "partial L / partial w1"
                d_L_d_ypred = -2 * (y_true - y_pred)

                # Neuron o1
                d_ypred_d_w5 = h1 * deriv_sigmoid(sum_o1)
                d_ypred_d_w6 = h2 * deriv_sigmoid(sum_o1)
                d_ypred_d_b3 = deriv_sigmoid(sum_o1)

                d_ypred_d_h1 = self.w5 * deriv_sigmoid(sum_o1)
                d_ypred_d_h2 = self.w6 * deriv_sigmoid(sum_o1)

                # Neuron h1
                d_h1_d_w1 = x[0] * deriv_sigmoid(sum_h1)
                d_h1_d_w2 = x[1] * deriv_sigmoid(sum_h1)
                d_h1_d_b1 = deriv_sigmoid(sum_h1)

                # Neuron h2
                d_h2_d_w3 = x[0] * deriv_sigmoid(sum_h2)
                d_h2_d_w4 = x[1] * deriv_sigmoid(sum_h2)
                d_h2_d_b2 = deriv_sigmoid(sum_h2)

                # --- Update weights and biases
                # Neuron h1
                self.w1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w1
                self.w2 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w2
                self.b1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_b1

                # Neuron h2
                self.w3 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w3
                self.w4 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w4
                self.b2 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_b2

                # Neuron o1
                self.w5 -= learn_rate * d_L_d_ypred * d_ypred_d_w5
                self.w6 -= learn_rate * d_L_d_ypred * d_ypred_d_w6
                self.b3 -= learn_rate * d_L_d_ypred * d_ypred_d_b3

            # --- Calculate total loss at the end of each epoch
            if log_every and epoch % log_every == 0:
                y_preds = np.apply_along_axis(self.feedforward, 1, data)
                loss = mse_loss(all_y_trues, y_preds)
                history.append((epoch, float(loss)))
        return history

    # -- mapping to the engine's MLP([2, 2, 1]) parameters --------------------------------
    def weights(self) -> list[float]:
        """[w1, w2, w3, w4, w5, w6, b1, b2, b3]."""
        return [self.w1, self.w2, self.w3, self.w4, self.w5, self.w6, self.b1, self.b2, self.b3]

    def to_mlp_params(self) -> list[np.ndarray]:
        """[W1 (2, 2), b1 (2,), W2 (2, 1), b2 (1,)] with ``W[i, j]`` = input i -> unit j:
        h1 = w1 x0 + w2 x1 + b1, h2 = w3 x0 + w4 x1 + b2, o1 = w5 h1 + w6 h2 + b3."""
        W1 = np.array([[self.w1, self.w3], [self.w2, self.w4]])
        b1 = np.array([self.b1, self.b2])
        W2 = np.array([[self.w5], [self.w6]])
        b2 = np.array([self.b3])
        return [W1, b1, W2, b2]

    @classmethod
    def from_mlp_params(cls, params) -> TutorialNetwork:
        W1, b1, W2, b2 = (np.asarray(p, np.float64) for p in params)
        return cls(
            weights=[
                W1[0, 0],
                W1[1, 0],
                W1[0, 1],
                W1[1, 1],
                W2[0, 0],
                W2[1, 0],
                b1[0],
                b1[1],
                b2[0],
            ]
        )


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])
