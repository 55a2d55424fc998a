"""``python -m body SCENE``: the body program of an MPMD run (see cosim.ranks)."""
from cosim.ranks import body_main

body_main()
