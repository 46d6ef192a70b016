import torch

from cyclegan.training.pool import ImagePool


def images(values):
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1)


def test_filling_pool_returns_the_new_images_and_stores_them():
    pool = ImagePool(3, seed=0)
    out = pool.query(images([1, 2]))
    assert out.flatten().tolist() == [1, 2]
    out = pool.query(images([3]))
    assert out.flatten().tolist() == [3]
    assert sorted(float(i) for i in pool.images) == [1, 2, 3]


def test_full_pool_swaps_half_of_the_time():
    pool = ImagePool(4, seed=1)
    pool.query(images([1, 2, 3, 4]))
    new, swapped = 0, 0
    for value in range(100, 1100):
        before = sorted(float(i) for i in pool.images)
        returned = float(pool.query(images([value])))
        after = sorted(float(i) for i in pool.images)
        if returned == value:
            new += 1
            assert after == before                      # pool untouched
        else:
            swapped += 1
            assert returned in before                   # a stored image came back
            assert value in after and returned not in after
        assert len(pool.images) == 4
    assert 400 < swapped < 600 and new + swapped == 1000


def test_pool_size_zero_passes_through():
    batch = images([5, 6])
    assert torch.equal(ImagePool(0).query(batch), batch)


def test_state_round_trip_continues_identically():
    a = ImagePool(3, seed=7)
    a.query(images([1, 2, 3, 4, 5]))
    b = ImagePool(3, seed=99)
    b.load_state_dict(a.state_dict())
    for v in range(10, 30):
        assert torch.equal(a.query(images([v])), b.query(images([v])))
