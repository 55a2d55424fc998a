"""``python -m brain SCENE``: the brain program of an MPMD run (see cosim.ranks)."""
from cosim.ranks import brain_main

brain_main()
