"""A stub of `torch` for tests/export/torch_check.py: just enough of torch.nn to build the
Net of an exported model.py and list the state_dict entries real PyTorch would give it."""

from . import nn  # noqa: F401

IS_STUB = True


def rand_like(x):
    raise NotImplementedError("the stub torch computes nothing")
