"""The run report: the HTML page, its plots and the gap-against-cost fronts."""
