"""The names a runs table's units and counts may take (no heavy imports: the command line reads them
to list its choices)."""

from __future__ import annotations

__all__ = ["LOSS_UNITS", "N_CONVENTIONS"]

#: Units of a loss. Nats and bits convert; per-token and per-character or per-byte do not.
LOSS_UNITS = ("nats/token", "bits/token", "bits/char", "bits/byte")
#: How N was counted. Kaplan et al. count parameters without the embeddings, Hoffmann et al. with
#: them; N*, and a 6ND compute, differ between the two, most for small models.
N_CONVENTIONS = ("unstated", "total", "non-embedding")
