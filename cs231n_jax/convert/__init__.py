"""Pretrained weights from PyTorch (torchvision) into the Flax CNN zoo: ``cs231n-jax convert-weights``.

See :mod:`cs231n_jax.convert.pytorch`. ``cs231n_jax.convert.torch_models`` (imports torch) has the
torchvision-equivalent architectures the conversion is tested against.
"""

from cs231n_jax.convert.pytorch import (
    WeightMismatchError,
    convert_state_dict,
    load_state_dict,
    load_variables,
    run,
    save_variables,
)

__all__ = ["WeightMismatchError", "convert_state_dict", "load_state_dict", "load_variables", "run",
           "save_variables"]
