"""Training on more than one device with TensorFlow's own engine, ``tf.distribute``.

Explained in the README ("Training on several GPUs"). A strategy is chosen by name:

- ``"default"`` — one device (the GPU when there is one, else the CPU): what every notebook uses.
- ``"mirrored"`` — :class:`tf.distribute.MirroredStrategy`: one copy of the model on each local
  GPU (or, with no GPU, on each logical CPU device a program configured), each copy fed its
  share of every batch, the gradients summed across copies before each update. The result
  is the same model one device would train with the *global* batch.

**Batch size and learning rate**, as TensorFlow's distributed-training guide does it:
``batch_size`` stays the batch of one replica, so the global batch a step sees is
``batch_size × replicas`` (:func:`global_batch_size`) and every device is as busy as one
device alone; the learning rate is left as given (a larger global batch often tolerates a
larger rate: raise it with ``--learning-rate`` and compare the validation loss).

``"multiworker"`` (:class:`tf.distribute.MultiWorkerMirroredStrategy`, several machines) is not
offered: Keras 3's ``Model.fit`` fails under it with "Attempt to convert a value (PerReplica…)"
(keras-team/keras#20585, open; tensorflow/tensorflow#72388), so on several machines train one
run per machine, or run Keras 2 (``tf_keras``) — which this project does not use.
"""

from __future__ import annotations

import contextlib

from helpers.errors import OptionError

STRATEGIES = ("default", "mirrored")


def make_strategy(name: str = "default"):
    """The ``tf.distribute`` strategy called ``name`` (see :data:`STRATEGIES`).

    ``"mirrored"`` uses every local GPU; on a machine without one, every logical CPU device
    (one unless the program split the CPU with ``tf.config.set_logical_device_configuration``).
    """
    if name == "multiworker":
        raise OptionError(
            "strategy 'multiworker': Keras 3's fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585, open); "
            "train one run per machine instead, or 'mirrored' for the GPUs of one machine"
        )
    if name not in STRATEGIES:
        raise OptionError(f"strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
    from helpers import config

    tf = config.import_tensorflow()
    if name == "default":
        return tf.distribute.get_strategy()
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices("CPU")])


def replicas(strategy) -> int:
    """How many copies of the model train in step (1 without a strategy)."""
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def global_batch_size(batch_size: int, strategy) -> int:
    """Windows per training step over all replicas: ``batch_size`` per replica."""
    return batch_size * replicas(strategy)


def scope(strategy):
    """``with scope(strategy):`` builds the model's variables where the strategy wants them."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def strategy_name(strategy) -> str:
    """The name :func:`make_strategy` knows ``strategy`` by (``"default"`` for ``None``)."""
    if strategy is None:
        return "default"
    import tensorflow as tf

    return "mirrored" if isinstance(strategy, tf.distribute.MirroredStrategy) else "default"
