"""Export a sentence-transformers model to int8 ONNX for the onnx backend (needs torch; run once).

The exported graph takes one unpadded text per call (`input_ids` only): every text has all its
tokens attended and token type 0, so the attention mask and token types are left out of the
graph, and with them the ops that build a mask. The reshapes inside attention are then made
static where they only carry the batch and token axes over: torch's exporter computes those
from `Shape` ops at every call. Both changes leave every output bit the same (checked at export
time, see `_static_reshapes`) and take about a tenth off a question's model call.

int8 is checked on this machine's CPU before it is kept: onnxruntime's int8 matrix products
depend on the CPU's instructions, and on some (AVX2 without VNNI, as on the AMD EPYC machines
here) all-mpnet-base-v2's int8 copy gave vectors at cosine 0.0 to 0.1 of the torch model's,
while the bundled model's stayed at 0.99. A model whose int8 copy strays is kept as float32:
slower, never wrong.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def export(model: SentenceTransformer, name: str, folder: Path, *, one_text: bool = True) -> None:
    """Export `model` to int8 ONNX in `folder` (written whole, then renamed).

    `one_text=False` keeps `attention_mask` and `token_type_ids` inputs, for padded batches
    (only benchmarks/embed_throughput.py, which compares against them, wants that).
    """
    modules = list(model)
    pooling = getattr(modules[1], "pooling_mode", None) if len(modules) > 1 else None
    if len(modules) != 3 or pooling != "mean" or type(modules[2]).__name__ != "Normalize":
        raise ModelError(
            f"the onnx backend supports mean-pooled, normalised models; {name!r} is not one. Use --backend torch"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        _to_onnx(modules[0].auto_model, work / "fp32.onnx", one_text)
        if one_text:
            _static_reshapes(work / "fp32.onnx")
        _quantize(work / "fp32.onnx", work / "model.onnx")
        probes = [model.tokenizer(text)["input_ids"] for text in _PROBES]
        agreement = _agreement(work / "fp32.onnx", work / "model.onnx", probes)
        if agreement >= MIN_AGREEMENT:
            weights = "int8"
            (work / "fp32.onnx").unlink()
        else:
            weights = "float32"
            os.replace(work / "fp32.onnx", work / "model.onnx")
        (work / "tokenizer.json").write_text(model.tokenizer.backend_tokenizer.to_str())
        meta = {
            "model": name,
            "dimensions": model.get_embedding_dimension(),
            "max_tokens": model.max_seq_length,
            "weights": weights,
            "int8_agreement": round(agreement, 4),
        }
        (work / "meta.json").write_text(json.dumps(meta))
        if folder.exists():
            shutil.rmtree(folder)
        os.rename(work, folder)
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, ModelError):
            raise
        raise ModelError(f"cannot export {name!r} to ONNX ({type(exc).__name__}: {exc}); use --backend torch") from exc


# The least cosine, over `_PROBES`, between a text's mean-pooled vector from the int8 copy and
# from the float32 graph for the int8 copy to be kept. The bundled model's is 0.99 or more.
MIN_AGREEMENT = 0.98
# News-like texts of several lengths: a question, sentences with names, sums and dates.
_PROBES = (
    "What guarantees did Russia demand?",
    "How much is Judy Boynton, Shell's former CFO, getting as a pay-off?",
    "Judy Boynton finally left the firm on 31 December and will receive $1m (£522,000) in severance.",
    "Shares in the company rose 3.5% to 412 pence in early trading in London on Tuesday, after it "
    "said profits for the year to March would beat analysts' forecasts by about £20m.",
    "The 17-year-old singer, who released her debut album last year, received nominations for best "
    "newcomer and best single at the awards, which will be held in Birmingham on 14 February.",
)


def _agreement(reference: Path, candidate: Path, probes: list[list[int]]) -> float:
    """The least cosine between the mean-pooled vectors the two graphs give each token sequence."""
    least = 1.0
    for a, b in _both_run(reference, candidate, [np.asarray([ids], dtype=np.int64) for ids in probes]):
        u, v = a[0].mean(axis=0), b[0].mean(axis=0)
        least = min(least, float(u @ v / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-12)))
    return least


def _both_run(first: Path, second: Path, sequences: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each graph's output for each (1, tokens) id array, fed as one unpadded text: every token
    attended, token type 0, for whichever of those inputs the graph takes."""
    import onnxruntime as ort

    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (first, second)]
    out = []
    for ids in sequences:
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        a, b = (s.run(None, {i.name: feeds[i.name] for i in s.get_inputs()})[0] for s in sessions)
        out.append((a, b))
    return out


def _quantize(source: Path, target: Path) -> None:
    """int8 weights, per channel: vectors stay within cosine 0.99 of the torch model (per tensor: 0.96)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs a tip through the root logger, which would also give the root logger a
    # handler (logging.basicConfig) and so print every library's log lines from then on.
    root = logging.getLogger()
    level, quiet = root.level, logging.NullHandler()
    root.addHandler(quiet)
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeHandler(quiet)
        root.setLevel(level)


def _to_onnx(transformer: Any, path: Path, one_text: bool) -> None:
    """torch's own exporter on the transformer, its last hidden state as the one output."""
    import torch

    transformer.eval()
    names = ["input_ids"] if one_text else ["input_ids", "attention_mask", "token_type_ids"]

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            out = self.inner(**dict(zip(names, inputs, strict=True)))
            return out.last_hidden_state  # type: ignore[no-any-return]

    example = torch.ones((1, 8), dtype=torch.long)
    examples = (example,) if one_text else (example, example, torch.zeros_like(example))
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
    if one_text:
        axes = {n: {1: "tokens"} for n in axes}
    # The tracer warns that the causal-attention test is frozen: an encoder's is always false.
    # The masked graph's exporter warns that negative indices would break advanced indexing:
    # the mask's indices are built from shapes, never negative.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit._trace.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
        torch.onnx.export(
            _Hidden(), examples, str(path), input_names=names, output_names=["hidden"],
            dynamic_axes=axes, opset_version=17, dynamo=False,
        )  # fmt: skip


def _static_reshapes(path: Path) -> None:
    """Rewrite, in place, each Reshape whose target shape is built at run time from constants
    and its own input's batch or token length into a constant shape (0 copies an axis), drop
    the ops that built it, and keep the result only if it gives the same bits on texts of
    several lengths."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    initial = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    def constant(name: str) -> np.ndarray | None:
        if name in initial:
            return initial[name]
        node = producer.get(name)
        if node is not None and node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    def axis_of(name: str) -> tuple[str, int] | None:
        """(tensor, axis) when `name` is that axis's length, read through Shape and Gather."""
        node = producer.get(name)
        if node is None:
            return None
        if node.op_type in ("Unsqueeze", "Squeeze", "Cast"):
            return axis_of(node.input[0])
        if node.op_type == "Gather":
            shape, index = producer.get(node.input[0]), constant(node.input[1])
            if shape is not None and shape.op_type == "Shape" and index is not None and index.size == 1:
                return shape.input[0], int(index.reshape(-1)[0])
        return None

    for node in graph.node:
        built = producer.get(node.input[1]) if node.op_type == "Reshape" else None
        if built is None or built.op_type != "Concat":
            continue
        target: list[int] = []
        for position, part in enumerate(built.input):
            value, source = constant(part), axis_of(part)
            if value is not None and value.size == 1:
                target.append(int(value.reshape(-1)[0]))
            elif source is not None and source[1] == position < 2:
                target.append(0)  # the batch or token axis, carried over
            else:
                break
        else:
            static = node.input[1] + "_static"
            graph.initializer.append(numpy_helper.from_array(np.array(target, dtype=np.int64), static))
            node.input[1] = static
    while True:  # drop what no longer feeds anything
        used = {name for node in graph.node for name in node.input} | {out.name for out in graph.output}
        dead = [node for node in graph.node if not any(out in used for out in node.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    simplified = path.with_name("static.onnx")
    onnx.save(model, str(simplified))
    if _same_outputs(path, simplified):
        os.replace(simplified, path)
    else:  # a graph this rewrite misreads: keep torch's, which is only slower
        simplified.unlink()


def _same_outputs(first: Path, second: Path) -> bool:
    rng = np.random.default_rng(0)
    sequences = [rng.integers(1000, 2000, size=(1, length), dtype=np.int64) for length in (1, 7, 64, 200)]
    return all(np.array_equal(a, b) for a, b in _both_run(first, second, sequences))
