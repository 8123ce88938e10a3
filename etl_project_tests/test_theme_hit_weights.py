"""theme_terms._add_hit_weights gives the dense 0/1 product's values bit for bit (the flags depend on them)."""

from __future__ import annotations

import numpy as np

from etl_project.lib import theme_terms as tt


def test_hit_weights_equal_the_dense_product_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    weights = [tt.load_model().lexicon_coef, rng.normal(size=(14, 14)) * 1e3]
    for w in weights:
        for share in (0.05, 0.3, 0.9):
            n = 20_000
            dense = rng.random((n, 14)) < share
            row, flag = np.nonzero(dense)
            order = rng.permutation(len(row))  # any order, with repeats
            row, flag = np.r_[row[order], row[:50]], np.r_[flag[order], flag[:50]]
            base = rng.normal(size=(n, 14))
            want = base + (dense.astype(np.float64) @ w) * 1e3
            got = base.copy()
            tt._add_hit_weights(got, row, flag, w, 1e3)
            assert np.array_equal(got, want)
            want = base + dense.astype(np.float64) @ w
            got = base.copy()
            tt._add_hit_weights(got, row, flag, w)
            assert np.array_equal(got, want)


def test_no_hits_leave_the_scores_alone() -> None:
    base = np.arange(28, dtype=np.float64).reshape(2, 14)
    got = base.copy()
    tt._add_hit_weights(got, np.zeros(0, np.int64), np.zeros(0, np.int64), np.ones((14, 14)))
    assert np.array_equal(got, base)
