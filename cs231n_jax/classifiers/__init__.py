"""Lectures 2-5 classifiers in the course's API: kNN, linear SVM / softmax, image features, and the
course-contract networks (``fc_net.TwoLayerNet`` / ``FullyConnectedNet``, ``cnn.ThreeLayerConvNet``)
whose gradients come from the hand-written backward passes of ``cs231n_jax.layers``.

Modules: ``k_nearest_neighbor``, ``linear_svm``, ``softmax``, ``linear_classifier``,
``regularization``, ``features``, ``course_model``, ``fc_net``, ``cnn``, ``visualize``, ``runners``.
The Flax versions of the networks (NHWC, for the engine's ``fit`` loop) are in
``cs231n_jax.models``.
"""

from cs231n_jax.classifiers.cnn import ThreeLayerConvNet
from cs231n_jax.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n_jax.classifiers.k_nearest_neighbor import KNearestNeighbor, cross_validate
from cs231n_jax.classifiers.linear_classifier import LinearClassifier, LinearSVM, Softmax
from cs231n_jax.classifiers.linear_svm import svm_loss_naive, svm_loss_vectorized
from cs231n_jax.classifiers.softmax import softmax_loss_naive, softmax_loss_vectorized
