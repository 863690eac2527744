"""What every other subpackage shares; it imports none of them.

cli.py: one-line errors and the commands they name, output folders, atomic writes, versions.
text.py: number formatting and README marker regions.
machine.py: the CPU and its vector extensions, named for results and benchmarks.
gradcheck.py: central differences and rel_error.
sampling.py: all members of a population or a sorted seeded sample.
seeds.py: one result over several training seeds (mean, range, agreement).
"""
