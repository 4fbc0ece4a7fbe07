"""The search: the loop, its population and operators, fitness, cost, champions."""
