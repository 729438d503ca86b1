"""How alpha moves: the strategies of the paper's Algorithm 1 (strategies.py) and the learned
alpha's numerics (bilevel.py: the validation hypergradient of one update; hypergrad.py: implicit
differentiation; krylov.py: the linear solvers it uses)."""
