"""`Distribution.add_all` (the hot loop's per-batch tally) keeps exactly what `add` keeps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.datasets.stats import Distribution

_VALUES = st.lists(
    st.one_of(st.integers(0, 50), st.integers(Distribution.SMALL - 3, Distribution.SMALL + 3)),
    max_size=60,
)


@given(_VALUES, _VALUES)
def test_add_all_equals_add_one_by_one(first: list[int], then: list[int]) -> None:
    one, many = Distribution(), Distribution()
    for v in first + then:
        one.add(v)
    many.add_all(first)
    many.add_all(then)
    assert one.small == many.small and sorted(one.big) == sorted(many.big)
    assert one.total == many.total and one.count == many.count
    assert [one.percentile(q) for q in (5, 50, 95)] == [many.percentile(q) for q in (5, 50, 95)]
