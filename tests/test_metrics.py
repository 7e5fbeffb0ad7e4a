import json
import math
import warnings

import numpy as np
import pytest
import torch

from tracknet_cli.datasets.heatmap import gaussian_heatmap
from tracknet_cli.evaluation import OUTCOMES, Protocol, classify_frames, summarize
from tracknet_cli.geometry import rescale_points
from tracknet_cli.models.postprocess import decode_heatmaps, to_original_pixels

NAN = np.nan
WASB = Protocol(visibility=(1, 2))
HEATMAP = (256, 144)

# One frame of each kind, plus an occluded ball and a far miss; the distances are hand-picked.
PREDICTED = np.array([[102, 100], [50, 56], [10, 10], [NAN, NAN], [NAN, NAN], [200, 203], [0, 12],
                      [NAN, NAN]], dtype=float)
LABEL = np.array([[100, 100], [50, 50], [NAN, NAN], [30, 30], [NAN, NAN], [200, 200], [0, 0],
                  [NAN, NAN]], dtype=float)
VISIBILITY = np.array([1, 2, 0, 1, 0, 3, 1, 0])
# errors:              2   6   -  -  -  3   12  -


def classify_one(predicted, label, visibility, protocol=Protocol()):
    outcomes, errors = classify_frames(np.array([predicted], float), np.array([label], float),
                                       np.array([visibility]), protocol)
    return outcomes[0], errors[0]


# --- per-frame outcomes -------------------------------------------------------------------------

@pytest.mark.parametrize("predicted,label,visibility,outcome", [
    ((101, 101), (100, 100), 1, "TP"),
    ((110, 100), (100, 100), 2, "FP1"),
    ((10, 10), (NAN, NAN), 0, "FP2"),
    ((NAN, NAN), (100, 100), 1, "FN"),
    ((NAN, NAN), (NAN, NAN), 0, "TN"),
])
def test_each_outcome(predicted, label, visibility, outcome):
    assert classify_one(predicted, label, visibility)[0] == outcome


def test_outcomes_and_errors_of_a_mixed_clip():
    outcomes, errors = classify_frames(PREDICTED, LABEL, VISIBILITY, Protocol())
    assert outcomes.tolist() == ["TP", "FP1", "FP2", "FN", "TN", "TP", "FP1", "TN"]
    np.testing.assert_array_equal(errors, [2, 6, NAN, NAN, NAN, 3, 12, NAN])


def test_error_only_where_a_present_ball_was_predicted():
    # A stale coordinate on a no-ball frame (badminton writes 0,0) does not make an FP2 an error.
    outcome, error = classify_one((5, 5), (0, 0), 0)
    assert outcome == "FP2" and math.isnan(error)


def test_tolerance_edge_is_inclusive():
    assert classify_one((10, 24), (10, 20), 1) == ("TP", 4.0)
    outcome, error = classify_one((10, 24.0001), (10, 20), 1)
    assert outcome == "FP1" and error == pytest.approx(4.0001)
    assert classify_one((13, 24), (10, 20), 1, Protocol(tolerance=5.0)) == ("TP", 5.0)


def test_occluded_ball_counts_under_the_default_protocol_and_is_ignored_under_wasb():
    assert classify_one((200, 203), (200, 200), 3) == ("TP", 3.0)
    outcome, error = classify_one((200, 203), (200, 200), 3, WASB)
    assert outcome == "IGNORED" and math.isnan(error)
    assert classify_one((NAN, NAN), (200, 200), 3, WASB)[0] == "IGNORED"


def test_present_frame_without_label_coordinates_raises_naming_it():
    label = LABEL.copy()
    label[6] = NAN
    with pytest.raises(ValueError, match=r"frame 6: visibility 1"):
        classify_frames(PREDICTED, label, VISIBILITY, Protocol())


def test_wasb_ignores_the_unlabelled_occluded_ball_instead_of_raising():
    label = LABEL.copy()
    label[5] = NAN
    outcomes, _ = classify_frames(PREDICTED, label, VISIBILITY, WASB)
    assert outcomes[5] == "IGNORED"


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="expected predicted and label"):
        classify_frames(PREDICTED[:3], LABEL, VISIBILITY, Protocol())


# --- summaries ----------------------------------------------------------------------------------

def test_summary_of_a_mixed_clip_by_hand():
    metrics = summarize(*classify_frames(PREDICTED, LABEL, VISIBILITY, Protocol()), Protocol())
    assert metrics.counts == {"TP": 2, "FP1": 2, "FP2": 1, "FN": 1, "TN": 2}
    assert metrics.frames == 8
    assert metrics.accuracy == pytest.approx((2 + 2) / 8)
    assert metrics.precision == pytest.approx(2 / (2 + 2 + 1))
    assert metrics.recall == pytest.approx(2 / (2 + 1))
    assert metrics.f1 == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))  # = 0.5
    assert metrics.mean_l2 == pytest.approx((2 + 6 + 3 + 12) / 4)
    assert metrics.median_l2 == pytest.approx((3 + 6) / 2)
    # PCK: 5 present frames (TP, FP1 and FN), predicted within 5 px: errors 2 and 3; 10 px: +6.
    assert metrics.pck == pytest.approx({5.0: 2 / 5, 10.0: 3 / 5})


def test_summary_under_wasb_leaves_the_occluded_frame_out():
    metrics = summarize(*classify_frames(PREDICTED, LABEL, VISIBILITY, WASB), WASB)
    assert metrics.counts == {"TP": 1, "FP1": 2, "FP2": 1, "FN": 1, "TN": 2}
    assert metrics.frames == 7
    assert metrics.accuracy == pytest.approx(3 / 7)
    assert metrics.precision == pytest.approx(1 / 4)
    assert metrics.recall == pytest.approx(1 / 2)
    assert metrics.f1 == pytest.approx(1 / 3)
    assert metrics.mean_l2 == pytest.approx((2 + 6 + 12) / 3)
    assert metrics.median_l2 == pytest.approx(6.0)
    assert metrics.pck == pytest.approx({5.0: 1 / 4, 10.0: 2 / 4})


def test_pck_denominator_includes_missed_balls():
    outcomes = np.array(["TP", "FN", "FN", "FN", "TN"])
    errors = np.array([1.0, NAN, NAN, NAN, NAN])
    metrics = summarize(outcomes, errors, Protocol(pck_radii=(2.0,)))
    assert metrics.pck == {2.0: 0.25}
    assert metrics.mean_l2 == metrics.median_l2 == 1.0


def test_summary_is_a_function_of_the_concatenated_arrays():
    outcomes, errors = classify_frames(PREDICTED, LABEL, VISIBILITY, Protocol())
    halves = [classify_frames(PREDICTED[part], LABEL[part], VISIBILITY[part], Protocol())
              for part in (slice(0, 3), slice(3, None))]
    merged = summarize(np.concatenate([h[0] for h in halves]),
                       np.concatenate([h[1] for h in halves]), Protocol())
    assert merged == summarize(outcomes, errors, Protocol())


@pytest.mark.parametrize("outcomes,accuracy,precision", [
    (["TN", "TN"], 1.0, 0.0),  # no ball anywhere and none predicted
    (["FP2", "TN"], 0.5, 0.0),  # no ball, one false alarm: recall and F1 are 0/0
    ([], 0.0, 0.0),  # an empty split
])
def test_zero_over_zero_is_zero_without_warnings(outcomes, accuracy, precision):
    errors = np.full(len(outcomes), NAN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = summarize(np.array(outcomes, dtype="<U7"), errors, Protocol())
    assert (metrics.accuracy, metrics.precision, metrics.recall, metrics.f1) == (
        accuracy, precision, 0.0, 0.0)
    assert metrics.pck == {5.0: 0.0, 10.0: 0.0}
    assert math.isnan(metrics.mean_l2) and math.isnan(metrics.median_l2)
    assert metrics.frames == len(outcomes)


def test_as_dict_is_json_clean():
    values = summarize(np.array(["TN"]), np.array([NAN]), Protocol()).as_dict()
    assert list(values) == ["frames", "counts", "accuracy", "precision", "recall", "f1",
                            "mean_l2", "median_l2", "pck@5", "pck@10"]
    assert values["counts"] == {"TP": 0, "FP1": 0, "FP2": 0, "FN": 0, "TN": 1}
    assert list(values["counts"]) == list(OUTCOMES)
    assert values["mean_l2"] is None and values["pck@5"] == 0.0 and values["accuracy"] == 1.0
    json.dumps(values, allow_nan=False)


def test_protocol_describes_itself_and_rejects_visibility_zero():
    assert Protocol().describe() == (
        "tolerance 4 px at original resolution, ball present = visibility 1,2,3, PCK@5,10")
    assert Protocol(tolerance=2.5, visibility=[1, 2], pck_radii=[3], resolution="288p").describe() \
        == "tolerance 2.5 px at 288p resolution, ball present = visibility 1,2, PCK@3"
    with pytest.raises(ValueError, match="visibility 0"):
        Protocol(visibility=(0, 1))


# --- decoding -----------------------------------------------------------------------------------

def target(x: float, y: float) -> torch.Tensor:
    return torch.from_numpy(gaussian_heatmap((x, y), HEATMAP, 2.0))


CENTRES = [(37.3, 91.8), (100.0, 50.0), (0.0, 0.0), (1.4, 1.6), (254.3, 142.45), (128.0, 3.25)]


@pytest.mark.parametrize("x,y", CENTRES)
def test_gaussian_targets_decode_to_their_sub_pixel_centre(x, y):
    maps = target(x, y)[None]
    for points, scores in (decode_heatmaps(maps, from_logits=False),
                           decode_heatmaps(torch.logit(maps.double(), eps=1e-6).float())):
        assert points.dtype == torch.float32 and points.shape == (1, 2)
        assert points[0].tolist() == pytest.approx([x, y], abs=0.01)
        assert scores[0].item() == pytest.approx(maps.max().item(), abs=1e-5)


def test_border_peak_is_not_refined_along_that_axis():
    points, _ = decode_heatmaps(torch.stack([target(0.2, 50.3), target(255.4, 71.7)]),
                                from_logits=False)
    assert points[0, 0].item() == 0.0 and points[0, 1].item() == pytest.approx(50.3, abs=0.01)
    assert points[1, 0].item() == 255.0 and points[1, 1].item() == pytest.approx(71.7, abs=0.01)


def test_plateau_is_not_refined():
    maps = torch.zeros(1, 12, 20)
    maps[0, 5, 10] = maps[0, 5, 11] = 0.9  # two equal peaks side by side: the first one is kept
    maps[0, 4, 10] = maps[0, 6, 10] = 0.5
    points, scores = decode_heatmaps(maps, from_logits=False)
    assert points[0].tolist() == [10.0, 5.0] and scores[0].item() == pytest.approx(0.9)


def test_threshold_hides_the_point_but_reports_the_score():
    maps = 0.4 * target(60.2, 30.7)[None]
    points, scores = decode_heatmaps(maps, from_logits=False)
    assert torch.isnan(points).all() and scores[0].item() == pytest.approx(maps.max().item())
    points, _ = decode_heatmaps(maps, threshold=0.3, from_logits=False)
    assert points[0].tolist() == pytest.approx([60.2, 30.7], abs=0.01)  # scaling keeps the shape
    points, scores = decode_heatmaps(torch.zeros(1, 8, 8), threshold=0.5)  # logit 0 is exactly 0.5
    assert points[0].tolist() == [0.0, 0.0] and scores[0].item() == 0.5


def test_logits_and_probabilities_give_the_same_answer():
    logits = torch.full((1, 16, 16), -5.0)
    logits[0, 7, 9] = -1.0  # a weak peak: sigmoid(-1) = 0.269 is below the threshold
    points, scores = decode_heatmaps(logits)
    assert torch.isnan(points).all() and scores[0].item() == pytest.approx(1 / (1 + math.e))
    as_probs = decode_heatmaps(torch.sigmoid(logits), threshold=0.2, from_logits=False)
    as_logits = decode_heatmaps(logits, threshold=0.2)
    for got, expected in zip(as_probs, as_logits):
        torch.testing.assert_close(got, expected)
    assert as_logits[0][0].tolist() == [9.0, 7.0]  # symmetric neighbours: no offset


def test_batch_with_mixed_outcomes():
    maps = torch.stack([target(37.3, 91.8), 0.3 * target(80.0, 20.0), target(200.6, 10.4),
                        torch.zeros(144, 256)])
    points, scores = decode_heatmaps(maps, from_logits=False)
    assert points.shape == (4, 2) and scores.shape == (4,)
    assert points[0].tolist() == pytest.approx([37.3, 91.8], abs=0.01)
    assert torch.isnan(points[1]).all() and scores[1].item() == pytest.approx(0.3)
    assert points[2].tolist() == pytest.approx([200.6, 10.4], abs=0.01)
    assert torch.isnan(points[3]).all() and scores[3].item() == 0.0


@pytest.mark.parametrize("from_logits", [False, True])
def test_float16_input(from_logits):
    maps = target(37.3, 91.8)[None]
    if from_logits:
        maps = torch.logit(maps.double(), eps=1e-6)
    points, scores = decode_heatmaps(maps.half(), from_logits=from_logits)
    assert points.dtype == scores.dtype == torch.float32
    assert points[0].tolist() == pytest.approx([37.3, 91.8], abs=0.02)


def test_rejects_a_missing_batch_dimension():
    with pytest.raises(ValueError, match=r"\[N, Hh, Wh\]"):
        decode_heatmaps(target(1, 1))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_decodes_on_cuda_like_on_cpu():
    maps = torch.logit(torch.stack([target(37.3, 91.8), target(0.2, 50.3)]), eps=1e-6)
    cpu = decode_heatmaps(maps)
    cuda = decode_heatmaps(maps.cuda().bfloat16())
    assert cuda[0].device.type == "cuda"
    torch.testing.assert_close(cuda[0].cpu(), cpu[0], atol=0.02, rtol=0)


# --- back to the original frame -----------------------------------------------------------------

def test_heatmap_pixel_grid_maps_edges_to_edges():
    points = np.array([[-0.5, -0.5], [255.5, 143.5], [0.0, 0.0], [127.5, 71.5], [NAN, NAN]])
    out = to_original_pixels(points, HEATMAP, (1280, 720))
    np.testing.assert_allclose(out[:4], [[-0.5, -0.5], [1279.5, 719.5], [2.0, 2.0], [639.5, 359.5]])
    assert np.isnan(out[4]).all()
    np.testing.assert_allclose(rescale_points(out, (1280, 720), HEATMAP), points, atol=1e-9)


def test_per_row_original_sizes_and_tensor_input():
    points = torch.tensor([[10.0, 20.0], [10.0, 20.0], [NAN, NAN]])
    sizes = np.array([[1280, 720], [1920, 1080], [1280, 720]])
    out = to_original_pixels(points, HEATMAP, sizes)
    np.testing.assert_allclose(out[0], rescale_points(np.array([10.0, 20.0]), HEATMAP, (1280, 720)))
    np.testing.assert_allclose(out[1], [(10.5 * 7.5) - 0.5, (20.5 * 7.5) - 0.5])
    assert np.isnan(out[2]).all()


def test_candidates_are_one_per_blob_and_only_real_peaks():
    from tracknet_cli.models.postprocess import decode_candidates

    tie = torch.full((1, 20, 30), -8.0)
    tie[0, 10, 14] = tie[0, 10, 15] = 5.0  # two equal pixels (bf16 logits tie often): one blob
    points, scores = decode_candidates(tie, 0.5, k=3)
    assert scores[0].tolist() == pytest.approx([torch.sigmoid(torch.tensor(5.0)).item(), 0.0, 0.0])
    assert points[0, 0].tolist() == [14.0, 10.0] and torch.isnan(points[0, 1:]).all()
    two = torch.full((1, 20, 30), -8.0)
    two[0, 3, 4], two[0, 15, 25] = 4.0, 6.0  # two balls: the stronger first
    points, scores = decode_candidates(two, 0.5, k=3)
    assert points[0, :2].tolist() == [[25.0, 15.0], [4.0, 3.0]] and scores[0, 2] == 0


def test_a_video_track_is_scored_on_ball_and_no_ball_frames():
    import pandas as pd

    from tracknet_cli.errors import DataError
    from tracknet_cli.evaluation.track_scoring import TrackScore, score_track

    labels = pd.DataFrame({"frame": range(6), "visibility": [1, 1, 1, 0, 0, 3],
                           "x": [100.0, 200, 300, np.nan, np.nan, 600], "y": [50.0, 50, 50, np.nan, np.nan, 50]})
    # found 5 px off; 30 px off (a miss); nothing; a ball where there is none; nothing; a hidden ball
    predicted = pd.DataFrame({"frame": range(6), "visibility": [1, 1, 0, 1, 0, 1],
                              "x": [103.0, 230, 0, 400, 0, 600], "y": [54.0, 50, 0, 40, 0, 50]})
    score, errors = score_track(predicted, labels, tolerance=20)
    assert (score.ball_frames, score.found, score.no_ball_frames, score.false_alarms) == (3, 1, 2, 1)
    assert score.recall == pytest.approx(1 / 3) and score.false_alarm_rate == 0.5
    assert score.median_error == pytest.approx(5.0) and errors.tolist() == [pytest.approx(5.0)]
    both = TrackScore.total([score, score], np.concatenate([errors, errors + 2]))
    assert (both.ball_frames, both.found, both.false_alarms, both.median_error) == (6, 2, 2, 6.0)
    with pytest.raises(DataError, match="covers only 1 of the 6 labelled frames"):
        score_track(predicted.head(1), labels)
