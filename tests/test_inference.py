"""libai.inference end to end: pipelines in the three modes, LiBai's loader call, and
``libai-engine generate`` (output, ``--json``, exit statuses).

The Hugging Face model is the trained tiny GPT-2 of libai-models' generation fixtures
(tests/fixtures/make_generation_fixtures.py), whose transformers ids are recorded; a
"libai" checkpoint is written here with the engine's own Checkpointer, as
``libai-engine run`` writes ``model_final``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from libai.engine.testing import run_process, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT / "packages" / "libai-models" / "tests" / "fixtures" / "generation"
GPT2_DIR = GEN / "gpt2"
T5_DIR = GEN / "t5"
PROMPT = "MACBETH:\n"

GPT2_CONFIG = f"""
from libai.config import LazyCall, get_config

model = get_config("common/models/gpt.py").pretrain_model
model.cfg.update(hidden_layers=2, hidden_size=32, ffn_hidden_size=64, num_attention_heads=4,
                 max_seq_length=64, vocab_size=384)
tokenization = dict(
    tokenizer=LazyCall("libai.tokenizer.GPT2Tokenizer")(
        vocab_file={str(GPT2_DIR / "vocab.json")!r}, merges_file={str(GPT2_DIR / "merges.txt")!r}
    )
)
train = get_config("common/train.py").train
train.seed = 0
"""

T5_CONFIG = f"""
from libai.config import LazyCall, get_config

model = get_config("common/models/t5.py").pretrain_model
tokenization = dict(
    tokenizer=LazyCall("libai.tokenizer.T5Tokenizer")(
        vocab_file={str(T5_DIR / "spiece.model")!r}, extra_ids=0
    )
)
train = get_config("common/train.py").train
"""

NOT_A_GENERATOR = f"""
from libai.config import LazyCall, get_config

model = get_config("common/models/bert.py").pretrain_model
tokenization = dict(
    tokenizer=LazyCall("libai.tokenizer.GPT2Tokenizer")(
        vocab_file={str(GPT2_DIR / "vocab.json")!r}, merges_file={str(GPT2_DIR / "merges.txt")!r}
    )
)
"""


def _reference(name: str, case: str) -> dict:
    data = json.loads((GEN / name / "generation.json").read_text())
    return next(c for c in data["cases"] if c["name"] == case)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_in_group(argv: list, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run ``argv`` (or a callable making it) in its own process group, capturing text."""
    if not callable(argv):
        argv = [str(a) for a in argv]
    return run_process(argv, cwd=cwd, env=subprocess_env(), timeout=timeout)


def _engine(args: list, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    exe = shutil.which("libai-engine", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("libai-engine is not installed next to this Python")
    return run_in_group([exe, *args], cwd, timeout)


@pytest.fixture(scope="module")
def gpt2_cfg(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("cfg"), "gpt2_hf.py", GPT2_CONFIG)


def _new_ids(case: dict) -> list:
    prompt_len = len(case["input_ids"][0])
    return case["sequences"][0][prompt_len:]


def test_huggingface_pipeline_gives_transformers_ids(gpt2_cfg) -> None:
    from libai.inference import TextGenerationPipeline

    case = _reference("gpt2", "greedy")
    pipeline = TextGenerationPipeline(str(gpt2_cfg), model_path=str(GPT2_DIR), mode="huggingface")
    assert pipeline.cfg.model.cfg.hidden_size == 64  # config.json overrides the config
    (out,) = pipeline(PROMPT, max_new_tokens=24, return_token_ids=True)
    assert out["token_ids"] == _new_ids(case)
    assert out["generated_text"].startswith(PROMPT)
    assert out["generated_text"] == pipeline.tokenizer.decode(
        case["sequences"][0], skip_special_tokens=True
    )
    batch = pipeline([PROMPT, "First Witch:\nWhen shall we"], max_new_tokens=5)
    assert [type(o) for o in batch] == [dict, dict] and len(batch) == 2


def test_huggingface_t5_pipeline(tmp_path) -> None:
    from libai.inference import TextGenerationPipeline

    case = _reference("t5", "greedy")
    cfg = _write(tmp_path, "t5_hf.py", T5_CONFIG)
    pipeline = TextGenerationPipeline(str(cfg), model_path=str(T5_DIR), mode="huggingface")
    prompt = "MACBETH:\nIf it were done"
    (out,) = pipeline(prompt, max_new_tokens=20, return_token_ids=True)
    expected = case["sequences"][0][1:]
    assert out["token_ids"] == expected[: len(out["token_ids"])] and out["token_ids"]
    assert not out["generated_text"].startswith(prompt)  # the decoder does not repeat its input


def test_libai_loader_call_with_the_lazycall() -> None:
    from libai.config import get_config
    from libai.models.utils.model_loader import GPT2LoaderHuggerFace

    libai_cfg_model = get_config("common/models/gpt.py").pretrain_model
    model = GPT2LoaderHuggerFace(libai_cfg_model, libai_cfg_model.cfg, str(GPT2_DIR)).load()
    case = _reference("gpt2", "greedy")
    out = model.generate(np.array(case["input_ids"]), max_new_tokens=24).numpy()
    assert out.tolist() == case["sequences"]


def test_libai_mode_loads_a_checkpoint_and_random_mode_builds(gpt2_cfg, tmp_path) -> None:
    from libai.config import LazyConfig
    from libai.engine.default import DefaultTrainer
    from libai.inference import TextGenerationPipeline
    from libai.utils import distributed as dist
    from libai.utils.checkpoint import Checkpointer
    from libai.utils.oneflow_env import flow

    cfg = LazyConfig.load(str(gpt2_cfg))
    dist.setup_dist_util(cfg.train.dist)
    flow.manual_seed(123)
    trained = DefaultTrainer.build_model(cfg)
    Checkpointer(trained, str(tmp_path)).save("model_final")
    pipeline = TextGenerationPipeline(str(gpt2_cfg), model_path=str(tmp_path / "model_final"))
    (out,) = pipeline(PROMPT, max_new_tokens=6, return_token_ids=True)
    ids = np.array([pipeline.tokenizer.encode(PROMPT)])
    expected = trained.generate(ids, max_new_tokens=6, eos_token_id=0, pad_token_id=0).numpy()
    assert out["token_ids"] == expected[0, ids.shape[1] :].tolist()

    random = TextGenerationPipeline(str(gpt2_cfg), mode="random")
    (out,) = random(PROMPT, max_new_tokens=3, do_sample=True, seed=0)
    assert out["generated_text"].startswith(PROMPT)


def test_cli_generate_json_matches_the_reference(gpt2_cfg, tmp_path) -> None:
    case = _reference("gpt2", "greedy_left_padded")
    prompts = ["MACBETH:\n", "First Witch:\nWhen shall we", "LADY MACBETH:\nThe raven"]
    args = ["generate", str(gpt2_cfg), "--mode", "huggingface", "--model-path", str(GPT2_DIR)]
    for prompt in prompts:
        args += ["--prompt", prompt]
    proc = _engine([*args, "--max-new-tokens", "24", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["prompt"] for r in rows] == prompts
    width = len(case["input_ids"][0])
    for row, reference in zip(rows, case["sequences"]):
        new = reference[width:]
        if 0 in new:  # eos: the reference pads after it, --json stops at it
            new = new[: new.index(0) + 1]
        assert row["token_ids"] == new
        assert row["generated_text"].startswith(row["prompt"])


def test_cli_generate_prints_text(gpt2_cfg, tmp_path) -> None:
    prompt_file = _write(tmp_path, "prompts.txt", "MACBETH:\n\nFirst Witch:\n")
    proc = _engine(
        [
            "generate",
            str(gpt2_cfg),
            "--mode=huggingface",
            f"--model-path={GPT2_DIR}",
            f"--prompt-file={prompt_file}",
            "--max-new-tokens=8",
            "--num-beams=2",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocks = [b.strip("\n") for b in proc.stdout.split("-" * 40) if b.strip()]
    assert len(blocks) == 2
    assert blocks[0].startswith("MACBETH:") and blocks[1].startswith("First Witch:")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mode", "hugginface", "--model-path", str(GPT2_DIR)], "did you mean 'huggingface'"),
        (["--model-path", "/no/such/dir"], "model directory /no/such/dir does not exist"),
        (["--mode", "huggingface", "--model-path", str(ROOT)], "no config.json"),
        (["--mode", "libai", "--model-path", str(GPT2_DIR)], "no model/ directory"),
        (["--mode", "random", "--prompt", "   "], "prompt 1 is empty"),
        (["--mode", "random", "--prompt", "x " * 70], "the model's positions end at 64"),
        (["--mode", "random", "--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
    ],
    ids=["mode", "no-dir", "not-hf", "not-libai", "empty", "too-long", "max-new"],
)
def test_cli_bad_input_exits_2(gpt2_cfg, tmp_path, extra, message) -> None:
    proc = _engine(["generate", str(gpt2_cfg), "--prompt", "MACBETH:", *extra], tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_refuses_a_model_that_cannot_generate(tmp_path) -> None:
    cfg = _write(tmp_path, "bert.py", NOT_A_GENERATOR)
    proc = _engine(["generate", str(cfg), "--mode", "random", "--prompt", "x"], tmp_path)
    assert proc.returncode == 2
    assert "cannot generate" in proc.stderr and "BertForPreTraining" in proc.stderr


BERT_CLS_CONFIG = """
from libai.config import LazyCall
from libai.models import BertForClassification

model = LazyCall(BertForClassification)(
    cfg=dict(vocab_size=16, hidden_size=32, hidden_layers=2, num_attention_heads=4,
             intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
             max_position_embeddings=32, num_labels=3, add_pooling_layer=True,
             initializer_range=0.5)
)
tokenization = dict(tokenizer=LazyCall("libai.tokenizer.BertTokenizer")(vocab_file="vocab.txt"))
"""

VIT_CONFIG = """
from libai.config import LazyCall
from libai.models import VisionTransformer

model = LazyCall(VisionTransformer)(img_size=32, patch_size=8, embed_dim=32, depth=2,
                                    num_heads=4, num_classes=5)
"""


def test_text_classification_pipeline_labels_and_scores(tmp_path, monkeypatch) -> None:
    from libai.inference import TextClassificationPipeline
    from libai.inference.generation import as_broadcast_global
    from libai.utils import distributed as dist

    monkeypatch.chdir(tmp_path)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "great", "dull", "film"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    cfg = _write(tmp_path, "bert_cls.py", BERT_CLS_CONFIG)
    names = ["negative", "neutral", "positive"]
    pipeline = TextClassificationPipeline(str(cfg), mode="random", labels=names)
    one = pipeline("a great film")
    assert set(one) == {"label", "score"} and one["label"] in names
    top = pipeline(["a great film", "a dull film"], top_k=3)
    assert [len(r) for r in top] == [3, 3]
    assert abs(sum(r["score"] for r in top[0]) - 1.0) < 1e-6
    # the scores are the softmax of the model's own logits for [CLS] a great film [SEP]
    ids = np.array([[2, 5, 6, 8, 3]])
    out = pipeline.model(
        as_broadcast_global(ids),
        as_broadcast_global(np.ones_like(ids)),
        as_broadcast_global(np.zeros_like(ids)),
    )
    logits = dist.to_whole_local(out["prediction_scores"]).numpy()[0].astype(np.float64)
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert one["label"] == names[int(probs.argmax())]
    assert abs(one["score"] - probs.max()) < 1e-5


def test_image_classification_pipeline(tmp_path) -> None:
    from libai.inference import ImageClassificationPipeline
    from PIL import Image

    cfg = _write(tmp_path, "vit.py", VIT_CONFIG)
    pipeline = ImageClassificationPipeline(str(cfg), mode="random")
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
    image.save(tmp_path / "x.png")
    from_file = pipeline(str(tmp_path / "x.png"), top_k=5)
    from_pil = pipeline([image], top_k=5)[0]
    assert [r["label"] for r in from_file] == [r["label"] for r in from_pil]
    assert sorted(r["label"] for r in from_file) == [f"LABEL_{i}" for i in range(5)]
    scores = [r["score"] for r in from_file]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-6
