"""WSPT (Smith's rule): jobs sorted by p_j / w_j, ties by job index; optimal when every job is late."""


def schedule(p, w, d):
    """Return the jobs sorted by processing time per unit of weight (stable)."""
    return sorted(range(len(p)), key=lambda j: p[j] / w[j])
