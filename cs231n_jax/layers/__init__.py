"""The course's layers, from scratch: ``*_forward(...) -> (out, cache)``, ``*_backward(dout, cache)``.

These keep the course's names, argument order and NCHW layout (assignments 1-2 ``layers.py``,
``fast_layers.py``, ``layer_utils.py``), so people who took the course recognise them; the Flax
models in ``cs231n_jax.models`` are NHWC. Every backward pass is written from the equations and
checked three ways in float64 (hand-written vs ``jax.vjp`` of the forward vs numerical).
``differentiable`` wraps each pair in ``jax.custom_vjp`` so that models built from them train under
``jax.grad`` through the hand-written backward passes.

Modules: ``core`` (affine, activations, maxout), ``losses`` (svm_loss, softmax_loss),
``normalization`` (batch / layer / spatial batch / spatial group norm), ``dropout``, ``conv``
(naive conv and pooling, output-size formulas), ``fast`` (im2col / col2im), ``layer_utils``
(sandwich layers), ``differentiable`` (custom_vjp versions), ``precision`` (float64 handling),
``benchmark`` (fast vs naive conv / pool timings), ``rnn_layers`` (lecture 10's recurrent layers).
"""

from cs231n_jax.layers.conv import (
    conv_backward_naive,
    conv_forward_naive,
    conv_output_size,
    max_pool_backward_naive,
    max_pool_forward_naive,
    pool_output_size,
)
from cs231n_jax.layers.core import (
    affine_backward,
    affine_forward,
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    maxout_backward,
    maxout_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from cs231n_jax.layers.dropout import dropout_backward, dropout_forward
from cs231n_jax.layers.fast import (
    col2im,
    conv_backward_fast,
    conv_backward_im2col,
    conv_forward_fast,
    conv_forward_im2col,
    im2col,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231n_jax.layers.layer_utils import (
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_ln_relu_backward,
    affine_ln_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n_jax.layers.losses import softmax_loss, svm_loss
from cs231n_jax.layers.normalization import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from cs231n_jax.layers.rnn_layers import (  # noqa: E402  (lecture 10 recurrent layers)
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
