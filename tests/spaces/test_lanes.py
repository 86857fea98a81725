"""Long requests take turns in a lane of their own; quick ones never wait behind them."""

import threading

import gradio as gr
import pytest

from spaces.lanes import LongRunLane


def test_one_long_run_at_a_time_one_waiting_and_any_more_turned_away_at_once():
    lane = LongRunLane("long sampling", "ask for fewer steps", waiting=1)
    lane.enter()  # the first runs
    second_ran = threading.Event()

    def second():
        with lane:
            second_ran.set()

    waiting = threading.Thread(target=second)
    waiting.start()
    assert not second_ran.wait(0.3)  # the second waits for the first
    with pytest.raises(gr.Error, match="Another visitor's long sampling is running: ask for fewer steps to run now"):
        lane.enter()  # a third is turned away rather than queued behind both
    lane.leave()
    waiting.join(10)
    assert second_ran.is_set()
    with lane:  # free again once both are done
        pass


def test_a_quick_diffusion_run_goes_while_the_long_run_lane_is_full(trained_dirs):
    from spaces.ddpm import sample as sampling

    pipe = sampling.load(str(trained_dirs["ddpm"]))
    lane = LongRunLane("long sampling", "ask for fewer steps or images")
    sample = sampling.make_sampler(pipe, lane)

    def run(steps, count):
        return list(sample("3", 1.0, "DDPM", steps, count, 0, progress=lambda *_, **__: None))

    lane.enter()  # another visitor's long run is going
    try:
        with pytest.raises(gr.Error, match="Another visitor's long sampling is running"):
            run(1000, 16)  # 16,000 image-steps: a long run, turned away at once
        assert run(5, 2)[-1][1].startswith("done: 2 images")  # a quick one runs now, beside the long one
    finally:
        lane.leave()
    assert run(1000, 1)[-1][1].startswith("done: 1 image,")  # the lane free: a long run goes
