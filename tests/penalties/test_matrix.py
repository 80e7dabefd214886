import pytest
import torch

from reglab.penalties._matrix import as_matrix, by_shape, matrices, vectors


def test_conv_kernels_flatten_to_out_by_fan_in_and_1d_are_skipped():
    conv, bias, lin = torch.randn(4, 3, 2, 2), torch.randn(4), torch.randn(5, 6)
    mats = matrices([conv, bias, lin])
    assert [tuple(m.shape) for m in mats] == [(4, 12), (5, 6)]
    assert torch.equal(as_matrix(conv)[1], conv[1].flatten())


def test_by_shape_stacks_equal_shapes_and_keeps_singletons_as_views():
    a, b, c = torch.randn(2, 3), torch.randn(4, 3), torch.randn(2, 3)
    batches = by_shape([a, b, c])
    assert [tuple(x.shape) for x in batches] == [(2, 2, 3), (1, 4, 3)]
    assert torch.equal(batches[0][1], c) and batches[1].data_ptr() == b.data_ptr()


def test_no_matrix_raises():
    with pytest.raises(ValueError, match="selects no matrices"):
        matrices([torch.ones(3)])


def test_vectors_are_the_1d_tensors_and_batch_by_length():
    conv, b1, lin, b2, b3 = torch.randn(4, 3, 2, 2), torch.randn(4), torch.randn(5, 6), torch.randn(5), torch.randn(4)
    vecs = vectors([conv, b1, lin, b2, b3])
    assert [v is p for v, p in zip(vecs, [b1, b2, b3])] == [True, True, True]
    assert vectors([lin]) == []
    batches = by_shape(vecs)
    assert [tuple(x.shape) for x in batches] == [(2, 4), (1, 5)]
    assert torch.equal(batches[0][1], b3)
