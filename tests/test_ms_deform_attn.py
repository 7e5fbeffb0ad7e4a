"""Multi-scale deformable attention: both backends against float64 references.

The PyTorch backend in float64 is checked against `naive_reference`, a gather-based bilinear
sampler written from the formula (no grid_sample), then serves as the reference for lower
precisions and for the Triton backend: forward and the gradients of value, sampling_locations
and attention_weights, each within a tolerance relative to the reference's largest magnitude.

The Triton kernels run on the CPU in Triton's interpreter. TRITON_INTERPRET is read when a
kernel is decorated, so it must be set before the kernels are imported; setting it in this
process would also turn every later Triton kernel of the session (torch.compile, the GPU tests)
into interpreted Python. So one subprocess with TRITON_INTERPRET=1 runs this file as a script,
checks every interpreter case and prints the errors as JSON, which the tests below read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch

from tracknet_cli.errors import TracknetError
from tracknet_cli.ops.ms_deform_attn import (
    BACKEND_ENV_VAR,
    available_backends,
    ms_deform_attn,
    resolve_backend,
)
from tracknet_cli.ops.ms_deform_attn.torch_backend import ms_deform_attn_torch

TOLERANCE = {"float64": 1e-10, "float32": 1e-5, "float16": 1e-2, "bfloat16": 5e-2}
LOW_PRECISION = ("float32", "float16", "bfloat16")
HAS_TRITON = importlib.util.find_spec("triton") is not None
HAS_CUDA = torch.cuda.is_available()


@dataclass(frozen=True)
class Case:
    name: str
    shapes: tuple[tuple[int, int], ...]
    n: int = 1
    m: int = 2
    d: int = 4
    lq: int = 3
    p: int = 2


CASES = [
    Case("tiny", ((6, 4), (3, 2)), n=1, m=2, d=2, lq=2, p=2),  # Deformable DETR's own test
    Case("non_square", ((7, 13), (4, 5), (2, 3)), n=2, d=8, lq=5),
    *[Case(f"d{d}", ((5, 6), (3, 3)), d=d) for d in (1, 3, 8, 30, 32, 64)],
    Case("l1_p1", ((9, 7),), p=1),
    Case("l5_p3", ((8, 8), (6, 5), (4, 3), (2, 2), (1, 1)), p=3),
    Case("lq1", ((5, 6), (3, 3)), lq=1),
    Case("thin_levels", ((1, 9), (4, 1))),  # a 1xW and an Hx1 level
    Case("batch3", ((5, 6), (3, 3)), n=3),
    Case("many_queries", ((5, 6), (3, 3)), n=2, m=3, lq=37, p=1),  # query blocks, last partial
]
CASE_IDS = [case.name for case in CASES]
# Power-of-two levels: pixel centres (i + 0.5) / W are exact in binary, so every backend puts
# them exactly on the pixel. There the bilinear interpolant has a kink, and a location gradient
# computed one ulp off a centre would take the other one-sided slope.
EDGE_SHAPES = ((4, 8), (2, 2))


def make_inputs(case: Case, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Float64 value, locations (some just outside [0, 1]) and weights that are not normalised
    and partly negative, and a gradient for the output."""
    generator = torch.Generator().manual_seed(seed)
    levels = len(case.shapes)
    s = sum(h * w for h, w in case.shapes)
    value = torch.randn(case.n, s, case.m, case.d, generator=generator, dtype=torch.float64)
    loc = torch.rand(case.n, case.lq, case.m, levels, case.p, 2, generator=generator,
                     dtype=torch.float64) * 1.2 - 0.1
    weights = 2 * torch.randn(case.n, case.lq, case.m, levels, case.p, generator=generator,
                              dtype=torch.float64)
    grad_out = torch.randn(case.n, case.lq, case.m * case.d, generator=generator,
                           dtype=torch.float64)
    return value, loc, weights, grad_out


def edge_inputs() -> tuple[torch.Tensor, ...]:
    """Every pair (x, y) of edge coordinates, per level: exactly 0 and 1, pixel centres (first,
    last, middle), slightly outside (partly or wholly beyond the border pixels), far outside."""
    levels = []
    for h, w in EDGE_SHAPES:
        xs, ys = (
            [0.0, 1.0, 0.5 / size, (size - 0.5) / size, (size // 2 + 0.5) / size,
             -0.01, 1.01, -1.5 / size, 3.0, -1e4]
            for size in (w, h)
        )
        grid = torch.tensor([[(x, y) for y in ys] for x in xs], dtype=torch.float64)  # [Lq, P, 2]
        levels.append(grid)
    loc = torch.stack(levels, dim=1)[None, :, None]  # [1, Lq, 1, L, P, 2]
    value, _, weights, grad_out = make_inputs(Case("edge", EDGE_SHAPES, n=1, m=1, d=3, lq=10, p=10))
    return value, loc, weights, grad_out


def far_inputs() -> tuple[torch.Tensor, ...]:
    """Locations whose every bilinear corner lies outside its level."""
    value, loc, weights, grad_out = make_inputs(Case("far", ((5, 6), (3, 3)), lq=6, p=2))
    far = torch.tensor([-3.0, 2.5, 40.0, -1e4, 1e4, -0.7], dtype=torch.float64)
    loc[..., 0] = far.view(1, 6, 1, 1, 1)  # x far outside on every query
    return value, loc, weights, grad_out


def naive_reference(value, shapes, loc, weights) -> torch.Tensor:
    """Bilinear sampling by explicit gathers of the four corners, straight from the definition:
    pixel = loc * size - 0.5, corners outside the level count as zero. Autograd differentiates
    it."""
    n, _, m, d = value.shape
    lq = loc.shape[1]
    batch = torch.arange(n).view(n, 1, 1, 1)
    head = torch.arange(m).view(1, 1, m, 1)
    out = value.new_zeros(n, lq, m, d)
    start = 0
    for level, (h, w) in enumerate(shapes):
        grid = value[:, start:start + h * w].reshape(n, h, w, m, d)
        x = loc[:, :, :, level, :, 0] * w - 0.5  # [N, Lq, M, P]
        y = loc[:, :, :, level, :, 1] * h - 0.5
        x0, y0 = x.floor().detach(), y.floor().detach()
        for dx in (0, 1):
            for dy in (0, 1):
                xi, yi = x0 + dx, y0 + dy
                inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
                factor = (x - x0 if dx else 1 - (x - x0)) * (y - y0 if dy else 1 - (y - y0))
                corner = grid[batch, yi.clamp(0, h - 1).long(), xi.clamp(0, w - 1).long(), head]
                contribution = weights[:, :, :, level] * factor * inside  # [N, Lq, M, P]
                out = out + (contribution[..., None] * corner).sum(3)  # corner [N, Lq, M, P, D]
        start += h * w
    return out.flatten(2)


def run_with_grads(fn, value, loc, weights, grad_out) -> list[torch.Tensor]:
    """[output, grad of value, grad of loc, grad of weights], in float64 on the CPU."""
    inputs = [t.detach().clone().requires_grad_() for t in (value, loc, weights)]
    out = fn(*inputs)
    out.backward(grad_out.to(out.dtype))
    return [t.detach().double().cpu() for t in (out, *(i.grad for i in inputs))]


def relative_errors(actual: list[torch.Tensor], expected: list[torch.Tensor]) -> list[float]:
    """Largest absolute difference over the largest reference magnitude (absolute if that is 0)."""
    errors = []
    for a, e in zip(actual, expected):
        scale = e.abs().max().item()
        errors.append((a - e).abs().max().item() / (scale or 1.0))
    return errors


def errors_vs_fp64(inputs, shapes, dtype: str, backend: str, device: str = "cpu") -> list[float]:
    """Errors of `backend` run in `dtype` against the PyTorch backend in float64 on the same
    (rounded) inputs."""
    value, loc, weights, grad_out = (t.to(getattr(torch, dtype)) for t in inputs)
    rounded = [t.double() for t in (value, loc, weights, grad_out)]
    expected = run_with_grads(lambda v, l, w: ms_deform_attn(v, shapes, None, l, w, "torch"),
                              *rounded)
    actual = run_with_grads(lambda v, l, w: ms_deform_attn(v, shapes, None, l, w, backend),
                            *(t.to(device) for t in (value, loc, weights, grad_out)))
    return relative_errors(actual, expected)


def assert_within(errors: list[float], tolerance: float) -> None:
    names = ("output", "grad value", "grad sampling_locations", "grad attention_weights")
    bad = {name: error for name, error in zip(names, errors) if not error <= tolerance}
    assert not bad, f"relative errors above {tolerance}: {bad}"


# --- the PyTorch backend --------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_backend_matches_naive_reference_in_float64(case):
    value, loc, weights, grad_out = make_inputs(case)
    expected = run_with_grads(lambda v, l, w: naive_reference(v, case.shapes, l, w),
                              value, loc, weights, grad_out)
    actual = run_with_grads(lambda v, l, w: ms_deform_attn(v, case.shapes, None, l, w, "torch"),
                            value, loc, weights, grad_out)
    assert_within(relative_errors(actual, expected), TOLERANCE["float64"])


@pytest.mark.parametrize("dtype", LOW_PRECISION)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_backend_low_precision(case, dtype):
    assert_within(errors_vs_fp64(make_inputs(case), case.shapes, dtype, "torch"), TOLERANCE[dtype])


def test_torch_backend_at_edge_locations():
    value, loc, weights, grad_out = edge_inputs()
    expected = run_with_grads(lambda v, l, w: naive_reference(v, EDGE_SHAPES, l, w),
                              value, loc, weights, grad_out)
    actual = run_with_grads(lambda v, l, w: ms_deform_attn(v, EDGE_SHAPES, None, l, w, "torch"),
                            value, loc, weights, grad_out)
    assert_within(relative_errors(actual, expected), TOLERANCE["float64"])
    for dtype in LOW_PRECISION:
        assert_within(errors_vs_fp64((value, loc, weights, grad_out), EDGE_SHAPES, dtype, "torch"),
                      TOLERANCE[dtype])


def test_far_outside_gives_zero_output_and_gradients():
    value, loc, weights, grad_out = far_inputs()
    shapes = ((5, 6), (3, 3))
    for result in run_with_grads(lambda v, l, w: ms_deform_attn(v, shapes, None, l, w, "torch"),
                                 value, loc, weights, grad_out):
        assert torch.count_nonzero(result) == 0


def test_weights_are_used_as_given():
    """No renormalisation: scaling the weights by -3 scales the output by -3."""
    case = CASES[1]
    value, loc, weights, _ = make_inputs(case)
    out = ms_deform_attn(value, case.shapes, None, loc, weights, "torch")
    scaled = ms_deform_attn(value, case.shapes, None, loc, -3 * weights, "torch")
    torch.testing.assert_close(scaled, -3 * out, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk_elements", [None, 1], ids=["one_chunk", "query_by_query"])
def test_gradcheck(chunk_elements):
    case = CASES[0]
    value, loc, weights, _ = make_inputs(case)
    loc = loc.clamp(0.02, 0.98)  # away from the kinks of the zero padding at -1 and size
    kwargs = {} if chunk_elements is None else {"chunk_elements": chunk_elements}
    inputs = [t.requires_grad_() for t in (value, loc, weights)]
    assert torch.autograd.gradcheck(
        lambda v, l, w: ms_deform_attn_torch(v, case.shapes, l, w, **kwargs), inputs)


def test_chunks_match_one_pass():
    case = Case("long", ((7, 13), (4, 5)), n=2, m=2, d=8, lq=40, p=3)
    inputs = make_inputs(case)
    per_query = case.m * case.d * len(case.shapes) * case.p  # sampled values per batch item
    whole, chunked = (
        run_with_grads(lambda v, l, w: ms_deform_attn_torch(v, case.shapes, l, w, budget), *inputs)
        for budget in (float("inf"), 3 * per_query)  # 3 queries per chunk, the last one short
    )
    assert torch.equal(chunked[0], whole[0])  # each query is computed by the same operations
    assert_within(relative_errors(chunked, whole), 1e-14)  # gradients only sum in another order


def test_shapes_as_tensor_and_start_index_accepted():
    case = CASES[1]
    value, loc, weights, _ = make_inputs(case)
    expected = ms_deform_attn(value, case.shapes, None, loc, weights, "torch")
    shapes = torch.tensor(case.shapes)
    starts = torch.cat([shapes.new_zeros(1), shapes.prod(1).cumsum(0)[:-1]])
    assert torch.equal(ms_deform_attn(value, shapes, starts, loc, weights, "torch"), expected)
    assert torch.equal(ms_deform_attn(value, case.shapes, starts.tolist(), loc, weights, "torch"),
                       expected)


class _Attention(torch.nn.Module):
    def __init__(self, shapes, chunk_elements: float | None):
        super().__init__()
        self.shapes, self.chunk_elements = shapes, chunk_elements

    def forward(self, value, loc, weights):
        if self.chunk_elements is None:  # the public entry point, backend left to "auto"
            return ms_deform_attn(value, self.shapes, None, loc, weights)
        return ms_deform_attn_torch(value, self.shapes, loc, weights, self.chunk_elements)


@pytest.mark.filterwarnings("ignore")  # the TorchScript exporter warns about itself and shapes
@pytest.mark.parametrize("chunk_elements", [None, 2 * (2 * 8 * 3 * 2)],
                         ids=["auto", "two_queries_per_chunk"])
def test_onnx_export_runs_in_onnxruntime(tmp_path, chunk_elements):
    ort = pytest.importorskip("onnxruntime")
    case = CASES[1]  # 2 x 8 x 3 x 2 sampled values per query and batch item
    value, loc, weights, _ = (t.float() for t in make_inputs(case))
    path = tmp_path / "msda.onnx"
    names = ["value", "loc", "weights"]
    torch.onnx.export(_Attention(case.shapes, chunk_elements), (value, loc, weights), path,
                      input_names=names, dynamic_axes={name: {0: "batch"} for name in names},
                      opset_version=17, dynamo=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # run at another batch size than the export's: the chunks must not depend on it
    value, loc, weights = (torch.cat([t, t.flip(0), t]) for t in (value, loc, weights))
    feed = {"value": value.numpy(), "loc": loc.numpy(), "weights": weights.numpy()}
    (got,) = session.run(None, feed)
    expected = ms_deform_attn(value, case.shapes, None, loc, weights, "torch")
    assert_within(relative_errors([torch.from_numpy(got).double()], [expected.double()]), 1e-5)


# --- argument checks and backend choice -------------------------------------------------------


def _bad_arguments(kind: str):
    value, loc, weights, _ = make_inputs(CASES[0])  # levels (6, 4), (3, 2): S = 30
    shapes, starts = [(6, 4), (3, 2)], None
    if kind == "S":
        shapes = [(6, 4), (3, 3)]
    elif kind == "start_index":
        starts = [0, 20]
    elif kind == "levels":
        loc, weights = loc[:, :, :, :1], weights[:, :, :, :1]
    elif kind == "weights":
        weights = weights[..., :1]
    elif kind == "dtype":
        weights = weights.float()
    elif kind == "empty_level":
        shapes = [(6, 4), (0, 2)]
    return value, shapes, starts, loc, weights


@pytest.mark.parametrize("kind, message", [
    ("S", r"cover 33 positions but value has S=30"),
    ("start_index", r"level_start_index \[0, 20\] does not match"),
    ("levels", r"sampling_locations must be \[N, Lq, M, L, P, 2\] = \[1, Lq, 2, 2, P, 2\]"),
    ("weights", r"attention_weights must be \[N, Lq, M, L, P\]"),
    ("dtype", r"must share one dtype; got torch.float64, torch.float64, torch.float32"),
    ("empty_level", r"positive \(H, W\)"),
])
@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_bad_arguments_raise_a_clear_error(kind, message, backend):
    with pytest.raises(TracknetError, match=message):
        ms_deform_attn(*_bad_arguments(kind), backend=backend)


def test_backend_choice(monkeypatch):
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)
    assert available_backends()[0] == "torch"
    assert resolve_backend("auto", "cpu") == "torch"
    assert resolve_backend("auto", "cuda") == ("triton" if HAS_TRITON else "torch")
    monkeypatch.setenv(BACKEND_ENV_VAR, "torch")
    assert resolve_backend("auto", "cuda") == "torch"
    monkeypatch.setenv(BACKEND_ENV_VAR, "Triton")
    assert resolve_backend("torch", "cpu") == "torch"  # an explicit backend wins over the variable
    monkeypatch.setenv(BACKEND_ENV_VAR, "cuda")
    with pytest.raises(TracknetError, match=f"{BACKEND_ENV_VAR} must be one of auto, torch"):
        resolve_backend("auto", "cpu")
    with pytest.raises(TracknetError, match="backend must be one of"):
        resolve_backend("fast", "cpu")


def test_tracing_always_takes_pytorch(monkeypatch):
    import tracknet_cli.ops.ms_deform_attn.dispatch as dispatch

    monkeypatch.setattr(dispatch, "_tracing", lambda: True)  # as under torch.onnx.export or jit.trace
    assert resolve_backend("triton", "cuda") == "torch"  # a Triton kernel cannot be recorded
    monkeypatch.setenv(BACKEND_ENV_VAR, "triton")
    assert resolve_backend("auto", "cuda") == "torch"


@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") == "1",
                    reason="the interpreter takes CPU tensors")
def test_env_var_forces_triton_which_refuses_cpu_tensors(monkeypatch):
    value, loc, weights, _ = (t.float() for t in make_inputs(CASES[0]))
    monkeypatch.setenv(BACKEND_ENV_VAR, "triton")
    with pytest.raises(TracknetError, match="triton backend needs CUDA tensors.*TRITON_INTERPRET"):
        ms_deform_attn(value, CASES[0].shapes, None, loc, weights)
    ms_deform_attn(value, CASES[0].shapes, None, loc, weights, backend="torch")


# --- the Triton backend in the interpreter (CPU) ----------------------------------------------


def interpreter_results() -> dict[str, list[float] | str]:
    """Everything the interpreter checks, by name; run in a process with TRITON_INTERPRET=1."""
    results: dict[str, list[float] | str] = {}
    for case in CASES:
        for dtype in LOW_PRECISION:
            results[f"{case.name}-{dtype}"] = errors_vs_fp64(make_inputs(case), case.shapes,
                                                             dtype, "triton")
    for dtype in LOW_PRECISION:
        results[f"edge-{dtype}"] = errors_vs_fp64(edge_inputs(), EDGE_SHAPES, dtype, "triton")
    value, loc, weights, grad_out = (t.float() for t in far_inputs())
    far = run_with_grads(lambda v, l, w: ms_deform_attn(v, ((5, 6), (3, 3)), None, l, w, "triton"),
                         value, loc, weights, grad_out)
    results["far"] = [float(torch.count_nonzero(t)) for t in far]
    value, loc, weights, _ = make_inputs(CASES[0])
    try:
        ms_deform_attn(value, CASES[0].shapes, None, loc, weights, backend="triton")
        results["float64"] = "accepted"
    except TracknetError as error:
        results["float64"] = str(error)
    return results


@pytest.fixture(scope="module")
def interpreted():
    if not HAS_TRITON:
        pytest.skip("triton is not installed")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    env.pop(BACKEND_ENV_VAR, None)
    done = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dtype", LOW_PRECISION)
@pytest.mark.parametrize("name", [*CASE_IDS, "edge"])
def test_triton_interpreted(interpreted, name, dtype):
    assert_within(interpreted[f"{name}-{dtype}"], TOLERANCE[dtype])


def test_triton_interpreted_far_outside_is_zero(interpreted):
    assert interpreted["far"] == [0.0, 0.0, 0.0, 0.0]


def test_triton_interpreted_refuses_float64(interpreted):
    assert "takes float32, float16 or bfloat16, got torch.float64" in interpreted["float64"]


# --- on a GPU ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", LOW_PRECISION)
@pytest.mark.parametrize("backend", ["triton", "torch"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_cuda(case, backend, dtype):
    errors = errors_vs_fp64(make_inputs(case), case.shapes, dtype, backend, "cuda")
    assert_within(errors, TOLERANCE[dtype])


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_cuda_triton_at_edges_and_encoder_size(dtype):
    errors = errors_vs_fp64(edge_inputs(), EDGE_SHAPES, dtype, "triton", "cuda")
    assert_within(errors, TOLERANCE[dtype])
    case = Case("encoder", ((72, 128), (36, 64), (18, 32), (9, 16)), n=2, m=8, d=32, lq=1000, p=4)
    errors = errors_vs_fp64(make_inputs(case), case.shapes, dtype, "triton", "cuda")
    assert_within(errors, TOLERANCE[dtype])


if __name__ == "__main__":  # the interpreter's subprocess: see the module docstring
    print(json.dumps(interpreter_results()))
