"""Timing helpers shared by the benchmarks."""

import statistics
import time


def interleaved_medians(first, second, calls: int) -> tuple[float, float]:
    """Median time of each of two functions, called alternately so that both see the same machine state.

    Single calls of a few milliseconds vary by half their length on a busy CPU; medians of interleaved calls
    compare the two fairly where a best-of-N would compare two lucky outliers.
    """
    first(), second()  # warm-up
    times = ([], [])
    for _ in range(calls):
        for function, bucket in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            function()
            bucket.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])
