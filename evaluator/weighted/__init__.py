"""1||Σw_jT_j, total weighted tardiness: the problem knowledge of the second task.

Laid out as the future ``tasks/weighted_tardiness/`` package will be, one module per part a task
owns, so the task seam can wrap (or move) them one for one:

* ``instances``: weighted sets (p, w, d, opt, proven), the OR-Library JSON loader, the generator.
* ``kernels``: the objective Σ w_j max(0, C_j − d_j) in numba, per order, per batch, per set.
* ``rules``: the references WSPT, EDD, WMDD, ATC, COVERT and Aug-WMDD in numba.
* ``reference``: the same rules and the objective in plain Python (the tests' yardstick).
* ``exact``: the subset DP (n ≤ 22), the positional MIP with HiGHS, brute force; ``solve_weighted``.
* ``ti``: the exact solver for n = 40..100 (Lagrangian bound, arc elimination, time-indexed MIP),
  built on ``lagrange`` (the bound and the elimination in numba) and ``local`` (the incumbent).
* ``stored``: the stored train/valid sets at n = 20 with optima and baseline values.
* ``baselines``: the rules' gaps on a set against its ``opt``, saying which are proven.
"""
