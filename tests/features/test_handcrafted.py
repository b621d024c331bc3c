import numpy as np
import pytest
from scipy.fft import dct

from babycry_core.audio import synth
from babycry_core.features.handcrafted import dct_basis, handcrafted, handcrafted_names


@pytest.mark.parametrize("n", [8, 64])
def test_dct_basis_is_scipys_orthonormal_dct(n):
    S = np.random.default_rng(n).normal(-40.0, 15.0, (n, 30)).astype(np.float32)
    assert np.allclose(dct_basis(n) @ S, dct(S, type=2, norm="ortho", axis=0), rtol=1e-5, atol=1e-3)
    assert np.allclose(dct_basis(n) @ dct_basis(n).T, np.eye(n), atol=1e-5)  # orthonormal


def test_handcrafted_vector_is_named_and_finite():
    v = handcrafted(synth.cry_sweep(2.0, 8000).astype(np.float32))
    assert v.shape == (len(handcrafted_names()),) and np.isfinite(v).all()
