"""Late interaction: the token projection, int8 codes and MaxSim, on small arrays."""

from __future__ import annotations

import numpy as np

from qa._embed import unit_rows
from qa._late import dequantize, fit_projection, quantize, segment_best


def random_units(rows: int, width: int, seed: int = 0) -> np.ndarray:
    return unit_rows(np.random.default_rng(seed).normal(size=(rows, width)))


def test_projection_keeps_the_main_directions_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    # Unit vectors that live mostly in 4 of 32 dimensions.
    tokens = unit_rows(rng.normal(size=(500, 4)) @ rng.normal(size=(4, 32)) + 0.01 * rng.normal(size=(500, 32)))
    projection = fit_projection(tokens, 4)
    assert projection.dims == 4 and projection.matrix.shape == (32, 4)
    again = fit_projection(tokens.copy(), 4)
    assert np.array_equal(projection.matrix, again.matrix) and np.array_equal(projection.mean, again.mean)
    # Cosines between projected vectors stay close to the originals'.
    projected = projection.apply(tokens)
    assert np.allclose(np.linalg.norm(projected, axis=1), 1.0, atol=1e-5)
    assert np.allclose(projection.apply_few(tokens[:20]), projected[:20], atol=1e-5)  # the question path
    centred = unit_rows(tokens - projection.mean)
    assert np.abs(projected[:50] @ projected[:50].T - centred[:50] @ centred[:50].T).max() < 0.05


def test_a_tiny_corpus_keeps_its_tokens_unprojected() -> None:
    tokens = random_units(10, 32)
    projection = fit_projection(tokens, 8)
    assert projection.dims == 32
    assert np.allclose(projection.apply(tokens), tokens, atol=1e-6)


def test_int8_codes_keep_cosines() -> None:
    tokens = random_units(200, 128, seed=2)
    codes, scale = quantize(tokens)
    assert codes.dtype == np.int8 and codes.shape == (200, 128) and scale.shape == (200,)
    restored = dequantize(codes, scale)
    assert np.allclose(np.linalg.norm(restored, axis=1), 1.0, atol=1e-5)
    assert (restored * tokens).sum(axis=1).min() > 0.999
    assert quantize(tokens[:0])[0].shape == (0, 128)


def test_segment_best_matches_brute_force() -> None:
    question = random_units(3, 16, seed=3)
    tokens = random_units(9, 16, seed=4)
    offsets = np.array([0, 2, 2, 7, 9])  # four segments, the second empty
    best = segment_best(question, tokens, offsets)
    similarity = question @ tokens.T
    expected = np.stack(
        [
            similarity[:, 0:2].max(axis=1),
            np.full(3, -1.0),
            similarity[:, 2:7].max(axis=1),
            similarity[:, 7:9].max(axis=1),
        ],
        axis=1,
    )
    assert np.allclose(best, expected, atol=1e-6)
    # MaxSim over several segments is the best of their columns, over all of them the plain MaxSim.
    assert np.isclose(best[:, [0, 2]].max(axis=1).mean(), np.maximum(expected[:, 0], expected[:, 2]).mean())
    assert np.isclose(best.max(axis=1).mean(), similarity.max(axis=1).mean())
    # A question without content tokens has no rows to match.
    assert segment_best(question[:0], tokens, offsets).shape == (0, 4)
    # int8 codes with their scales score as their dequantized vectors do.
    codes, scale = quantize(tokens)
    assert np.allclose(
        segment_best(question, codes, offsets, scale),
        segment_best(question, dequantize(codes, scale), offsets),
        atol=1e-6,
    )
