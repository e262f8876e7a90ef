"""Tests of the ctypes bindings against the fixture models and their
transformers reference outputs (Tests/Fixtures/models/*/reference.safetensors).

Needs only pytest; numpy-specific tests are skipped without numpy.
"""

from __future__ import annotations

import array
import ctypes
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import score
import score._lib as _lib

FIXTURES = (Path(__file__).resolve().parent / ".." / ".." / ".." / "Tests" / "Fixtures" / "models").resolve()

MODEL_NAMES = [
    "llama-gqa",
    "llama3-rope-tied",
    "mistral-swa",
    "qwen2",
    "qwen3",
    "qwen2-bf16",
    "llama-sharded-f16",
]
N_SEQUENCES = 4
TOL = 1e-4

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"fixtures not found at {FIXTURES}")


# --------------------------------------------------------------------------
# A tiny safetensors reader (no numpy, no safetensors package)
# --------------------------------------------------------------------------

_DTYPES = {"F32": ("f", 4), "I32": ("i", 4)}


def read_safetensors(path: Path) -> Dict[str, Tuple[List[int], array.array]]:
    """name -> (shape, flat array) for F32/I32 tensors."""
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len].decode("utf-8"))
    data = memoryview(raw)[8 + header_len :]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        code, size = _DTYPES[meta["dtype"]]
        begin, end = meta["data_offsets"]
        values = array.array(code)
        assert values.itemsize == size
        values.frombytes(data[begin:end])
        if sys.byteorder != "little":
            values.byteswap()
        count = 1
        for d in meta["shape"]:
            count *= d
        assert len(values) == count, name
        out[name] = (list(meta["shape"]), values)
    return out


_reference_cache: Dict[str, dict] = {}


def reference(name: str) -> dict:
    if name not in _reference_cache:
        _reference_cache[name] = read_safetensors(FIXTURES / name / "reference.safetensors")
    return _reference_cache[name]


def max_abs_diff(a, b) -> float:
    assert len(a) == len(b)
    return max((abs(x - y) for x, y in zip(a, b)), default=0.0)


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models():
    loaded: Dict[str, score.Model] = {}

    def get(name: str) -> score.Model:
        if name not in loaded:
            loaded[name] = score.Model.load(FIXTURES / name)
        return loaded[name]

    yield get
    for m in loaded.values():
        m.close()


@pytest.fixture
def qwen2(models) -> score.Model:
    return models("qwen2")


def assert_alive(model: score.Model) -> None:
    """After an error, the process and the model still work."""
    lp = model.logprobs([1, 2, 3])
    assert len(lp) == 2 and all(math.isfinite(x) and x < 0 for x in lp)


def assert_score_error(excinfo, status: int, *words: str) -> None:
    e = excinfo.value
    assert isinstance(e, score.ScoreError)
    assert e.status == status, (e.status, str(e))
    assert e.status_name == _lib.score_status_string(status).decode()
    for w in words:
        assert w in str(e), (w, str(e))


# --------------------------------------------------------------------------
# Library
# --------------------------------------------------------------------------


def test_version_and_abi():
    v = score.version()
    parts = v.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts), v
    assert score.abi_version() == _lib.ABI_VERSION == 1


def test_struct_mirrors_checked_at_import():
    assert _lib.MODEL_PARAMS_SIZE == ctypes.sizeof(_lib.ModelParamsStruct)
    assert _lib.MODEL_INFO_SIZE == ctypes.sizeof(_lib.ModelInfoStruct)
    assert _lib.MODEL_PARAMS_SIZE == _lib.score_sizeof(_lib.SCORE_TYPE_MODEL_PARAMS)
    assert _lib.MODEL_INFO_SIZE == _lib.score_sizeof(_lib.SCORE_TYPE_MODEL_INFO)
    for type_id, (struct_type, size) in _lib.STRUCT_SIZES.items():
        assert ctypes.sizeof(struct_type) == size == _lib.score_sizeof(type_id)
    assert _lib.score_sizeof(12345) == 0
    defaults = _lib.score_model_params_default()
    assert defaults.struct_size == _lib.MODEL_PARAMS_SIZE
    assert defaults.use_mmap is True and defaults.max_context == 0 and defaults.compute == 0 and defaults.pack is True


def test_bf16_compute_is_close_to_f32():
    ids = [1, 42, 7, 99, 3, 15]
    with score.Model.load(FIXTURES / "qwen2") as exact, score.Model.load(FIXTURES / "qwen2", compute="bf16") as rounded:
        a, b = exact.logprobs(ids), rounded.logprobs(ids)
        worst = max(abs(x - y) for x, y in zip(a, b))
        assert 0 < worst < 0.1
    with pytest.raises(score.ScoreValueError):
        score.Model.load(FIXTURES / "qwen2", compute="f16")
    with pytest.raises(score.ScoreError, match="packed"):
        score.Model.load(FIXTURES / "qwen2", compute="bf16", pack=False)
    # Unpacked weights give the same bits (one summation order).
    with score.Model.load(FIXTURES / "qwen2", pack=False) as unpacked, score.Model.load(FIXTURES / "qwen2") as packed:
        assert unpacked.logprobs(ids) == packed.logprobs(ids)


def test_every_c_function_is_declared():
    names = [
        "score_abi_version", "score_version_string", "score_status_string",
        "score_last_error", "score_set_log_callback", "score_set_n_threads",
        "score_get_n_threads", "score_sizeof", "score_model_params_default",
        "score_model_load", "score_model_free", "score_model_get_info",
        "score_model_eos_ids", "score_model_logprobs", "score_model_last_logits",
    ]
    for name in names:
        fn = getattr(_lib, name)
        assert fn.argtypes is not None, name
        assert fn.__name__ == name


def test_status_names():
    assert _lib.score_status_string(score.ERR_IO) == b"i/o error"
    assert _lib.score_status_string(999) == b"unknown status"


def test_missing_library_is_a_clear_import_error(tmp_path):
    env = dict(os.environ, SCORE_LIBRARY=str(tmp_path / "nope.so"))
    code = (
        "import score\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=str(Path(score.__file__).resolve().parent.parent),
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0
    assert "LibraryLoadError" in r.stderr and "nope.so" in r.stderr


def test_system_info():
    info = score.system_info()
    assert info["vendor"] and isinstance(info["family"], int) and isinstance(info["features"], list)
    assert info["openblas_core"] and info["threads"] >= 1
    if "avx512f" in info["features"] and "avx512bw" in info["features"]:
        assert info["openblas_core"] in ("SkylakeX", "Cooperlake")
    assert info["kernels"] in info["kernel_paths"] and "reference" in info["kernel_paths"]
    if "avx2" in info["features"] and "fma" in info["features"]:
        assert "avx2" in info["kernel_paths"] and info["kernels"] != "reference"


def test_threads():
    before = score.get_n_threads()
    try:
        score.set_n_threads(1)
        assert score.get_n_threads() == 1
        with pytest.raises(score.ScoreError) as ei:
            score.set_n_threads(-1)
        assert_score_error(ei, score.ERR_INVALID_ARGUMENT, "negative")
        assert score.get_n_threads() == 1
        with pytest.raises(score.ScoreError) as ei:
            score.set_n_threads(20000)  # used to start 20000 threads (977 MB)
        assert_score_error(ei, score.ERR_INVALID_ARGUMENT, "out of range 1...")
        assert score.get_n_threads() == 1
        with pytest.raises(ValueError):
            score.set_n_threads(2**32 + 1)  # would silently wrap to 1 in C
        score.set_n_threads(0)  # all cores
        assert score.get_n_threads() >= 1
    finally:
        score.set_n_threads(before)


def test_log_callback():
    lines: List[Tuple[int, str]] = []
    score.set_log_callback(lambda level, line: lines.append((level, line)))
    try:
        m = score.Model.load(FIXTURES / "qwen2")
        m.close()
    finally:
        score.set_log_callback(None)
    assert lines, "no log lines received"
    assert all(isinstance(level, int) and isinstance(line, str) for level, line in lines)
    infos = [line for level, line in lines if level == score.LOG_INFO]
    assert any(line.startswith("loaded ") and "Qwen2ForCausalLM" in line for line in infos), lines

    # Default restored: nothing more arrives.
    n = len(lines)
    score.Model.load(FIXTURES / "qwen2").close()
    assert len(lines) == n


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_log_callback_that_raises_does_not_break_loading():
    def bad(level, line):
        raise RuntimeError("boom")

    score.set_log_callback(bad)
    try:
        with score.Model.load(FIXTURES / "qwen2") as m:
            assert_alive(m)
    finally:
        score.set_log_callback(None)


def test_log_callback_rejects_non_callable():
    with pytest.raises(TypeError):
        score.set_log_callback(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Numerics against the transformers reference
# --------------------------------------------------------------------------


def test_logprobs_batch_equals_one_call_per_sequence(models):
    model = models("qwen3")
    seqs = [[1, 5, 9, 20, 3], [7, 2], [4], list(range(1, 40))]
    batch = model.logprobs_batch(seqs)
    assert [len(b) for b in batch] == [4, 1, 0, 38]
    for s, b in zip(seqs, batch):
        assert max_abs_diff(b, model.logprobs(s)) <= 1e-5 if len(s) > 1 else b == []
    with pytest.raises(score.ScoreError, match="sequence 1"):
        model.logprobs_batch([[1, 2], [1, 999]])
    with pytest.raises(ValueError):
        model.logprobs_batch([])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_logprobs_and_last_logits_match_reference(models, name):
    model = models(name)
    ref = reference(name)
    vocab = model.info.vocab_size
    assert vocab == 128
    for i in range(N_SEQUENCES):
        _, tokens = ref[f"tokens.{i}"]
        logits_shape, logits = ref[f"logits.{i}"]
        t = len(tokens)
        assert logits_shape == [t, vocab]

        lp = model.logprobs(tokens)
        assert len(lp) == t - 1
        if t > 1:
            _, ref_lp = ref[f"logprobs.{i}"]
            d = max_abs_diff(lp, ref_lp)
            assert d <= TOL, f"{name} seq {i} (T={t}): logprobs differ by {d}"
        else:
            assert f"logprobs.{i}" not in ref

        z = model.last_logits(tokens)
        assert len(z) == vocab
        d = max_abs_diff(z, logits[(t - 1) * vocab :])
        assert d <= TOL, f"{name} seq {i} (T={t}): last logits differ by {d}"


def test_private_memory_load_matches_mmap(models):
    ref = reference("qwen2")
    _, tokens = ref["tokens.2"]
    with score.Model.load(FIXTURES / "qwen2", use_mmap=False) as m:
        assert m.logprobs(tokens) == models("qwen2").logprobs(tokens)


@pytest.mark.parametrize("name", ["qwen2", "qwen2-bf16", "llama-sharded-f16"])
def test_unmapped_model_survives_its_files_being_truncated(tmp_path, models, name):
    # A mapped file truncated on disk gives SIGBUS; use_mmap=False reads the
    # weights into memory, so the model keeps working whatever happens to them.
    for f in (FIXTURES / name).iterdir():
        shutil.copyfile(f, tmp_path / f.name)
    ref = reference("qwen2")
    _, tokens = ref["tokens.2"]
    tokens = [t % models(name).info.vocab_size for t in tokens]
    with score.Model.load(tmp_path, use_mmap=False) as m:
        for f in tmp_path.glob("*.safetensors"):
            os.truncate(f, 0)
        assert m.logprobs(tokens) == models(name).logprobs(tokens)
        assert len(m.generate(tokens[:3], max_new_tokens=4, stop_ids=[]).tokens) == 4
        for f in tmp_path.iterdir():
            f.unlink()
        assert m.logprobs(tokens) == models(name).logprobs(tokens)


def test_scoring_from_threads(qwen2):
    ref = reference("qwen2")
    _, tokens = ref["tokens.3"]
    expected = qwen2.logprobs(tokens)
    results: List[List[float]] = []
    errors: List[BaseException] = []

    def work():
        try:
            results.append(qwen2.logprobs(tokens))
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(results) == 4 and all(r == expected for r in results)


# --------------------------------------------------------------------------
# Info
# --------------------------------------------------------------------------


def test_info_qwen2(qwen2):
    info = qwen2.info
    assert isinstance(info, score.ModelInfo)
    assert info.architecture == "Qwen2ForCausalLM"
    assert info.vocab_size == 128
    assert info.n_layers == 2
    assert info.n_heads == 4
    assert info.n_kv_heads == 2
    assert info.head_dim == 16
    assert info.hidden_size == 64
    assert info.context_length == 512
    assert info.dtype == "F32"
    assert info.bos_token_id == 1
    assert info.eos_token_id == 2
    assert list(info.eos_token_ids) == [2, 3]
    assert info.n_params > 0 and info.bytes_in_memory > 0
    assert qwen2.info is info  # cached
    with pytest.raises(Exception):
        info.vocab_size = 1  # type: ignore[misc]  # frozen


def test_info_qwen2_bf16(models):
    info = models("qwen2-bf16").info
    assert info.architecture == "Qwen2ForCausalLM"
    assert info.dtype == "BF16"


def test_info_qwen3(models):
    info = models("qwen3").info
    assert info.architecture == "Qwen3ForCausalLM"
    assert info.head_dim == 32


def test_info_sharded_f16(models):
    assert models("llama-sharded-f16").info.dtype == "F16"


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def test_token_sequence_types(qwen2):
    ids = [1, 42, 7, 99]
    expected = qwen2.logprobs(ids)
    assert qwen2.logprobs(tuple(ids)) == expected
    assert qwen2.logprobs(array.array("i", ids)) == expected
    assert qwen2.logprobs(array.array("q", ids)) == expected
    assert qwen2.logprobs(range(1, 5)) == qwen2.logprobs([1, 2, 3, 4])
    assert qwen2.logprobs([5]) == []
    with pytest.raises(TypeError):
        qwen2.logprobs([1.0, 2.0])
    with pytest.raises(TypeError):
        qwen2.logprobs("abc")
    assert_alive(qwen2)


def test_numpy_inputs(qwen2):
    np = pytest.importorskip("numpy")
    ids = [1, 42, 7, 99]
    expected = qwen2.logprobs(ids)
    assert qwen2.logprobs(np.array(ids, dtype=np.int32)) == expected
    assert qwen2.logprobs(np.array(ids, dtype=np.int64)) == expected
    assert qwen2.logprobs(np.array(ids[::-1], dtype=np.int32)[::-1]) == expected  # strided
    with pytest.raises(ValueError):
        qwen2.logprobs(np.array([[1, 2], [3, 4]], dtype=np.int32))
    with pytest.raises(ValueError):
        qwen2.logprobs(np.array([1, 2**40], dtype=np.int64))


def test_path_types():
    with score.Model.load(str(FIXTURES / "qwen2")) as m:
        assert_alive(m)
    with score.Model.load(os.fsencode(FIXTURES / "qwen2")) as m:
        assert_alive(m)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_load_missing_directory(tmp_path, qwen2):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(score.ScoreError) as ei:
        score.Model.load(missing)
    assert_score_error(ei, score.ERR_IO, str(missing))
    assert_alive(qwen2)


def test_load_directory_without_config(tmp_path, qwen2):
    with pytest.raises(score.ScoreError) as ei:
        score.Model.load(tmp_path)
    assert_score_error(ei, score.ERR_IO, "config.json")
    assert_alive(qwen2)


def test_load_config_not_json(tmp_path, qwen2):
    (tmp_path / "config.json").write_text("{ this is not json")
    with pytest.raises(score.ScoreError) as ei:
        score.Model.load(tmp_path)
    assert_score_error(ei, score.ERR_FORMAT, "config.json", "JSON")
    assert_alive(qwen2)


def test_load_unknown_architecture(tmp_path, qwen2):
    config = json.loads((FIXTURES / "qwen2" / "config.json").read_text())
    config["architectures"] = ["GPT2LMHeadModel"]
    config["model_type"] = "gpt2"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(score.ScoreError) as ei:
        score.Model.load(tmp_path)
    assert_score_error(ei, score.ERR_UNSUPPORTED, "GPT2LMHeadModel")
    assert_alive(qwen2)


@pytest.mark.parametrize("keep", [20, 100_000])
def test_load_truncated_safetensors(tmp_path, qwen2, keep):
    for f in (FIXTURES / "qwen2").iterdir():
        if f.name != "reference.safetensors":
            shutil.copyfile(f, tmp_path / f.name)
    weights = tmp_path / "model.safetensors"
    assert weights.stat().st_size > keep
    os.truncate(weights, keep)
    with pytest.raises(score.ScoreError) as ei:
        score.Model.load(tmp_path)
    assert_score_error(ei, score.ERR_FORMAT, "model.safetensors")
    assert_alive(qwen2)


@pytest.mark.parametrize("token_id", [2**31 - 1, 2**28])
def test_load_tokenizer_with_absurd_token_id(tmp_path, qwen2, token_id):
    # 2**31 - 1 used to abort the process ("failed to allocate 34359738400
    # bytes"), 2**28 took 20 s and 4.2 GB.
    for f in (FIXTURES / "qwen2-chat").iterdir():
        shutil.copyfile(f, tmp_path / f.name)
    text = (tmp_path / "tokenizer.json").read_text()
    assert '"!": 0,' in text
    (tmp_path / "tokenizer.json").write_text(text.replace('"!": 0,', f'"!": {token_id},'))
    with pytest.raises(score.ScoreError) as ei:
        score.Model.load(tmp_path)
    assert_score_error(ei, score.ERR_FORMAT, "tokenizer.json", str(token_id))
    assert_alive(qwen2)


@pytest.mark.parametrize("bad", [128, -1, 1_000_000])
def test_token_outside_vocabulary(qwen2, bad):
    for call in (qwen2.logprobs, qwen2.last_logits):
        with pytest.raises(score.ScoreError) as ei:
            call([1, bad, 3])
        assert_score_error(ei, score.ERR_INVALID_ARGUMENT, str(bad), "vocabulary")
        assert_alive(qwen2)


@pytest.mark.parametrize("bad", [2**31, -(2**31) - 1, 2**64])
def test_token_outside_int32_is_rejected_before_c(qwen2, bad):
    # Documented choice: ScoreValueError, which is both a ValueError and a
    # ScoreError with status INVALID_ARGUMENT.
    with pytest.raises(ValueError) as ei:
        qwen2.logprobs([1, bad])
    assert isinstance(ei.value, score.ScoreError)
    assert_score_error(ei, score.ERR_INVALID_ARGUMENT, str(bad), "int32")
    assert_alive(qwen2)


def test_sequence_longer_than_context(qwen2):
    assert qwen2.info.context_length == 512
    assert len(qwen2.logprobs([1] * 512)) == 511
    for call in (qwen2.logprobs, qwen2.last_logits):
        with pytest.raises(score.ScoreError) as ei:
            call([1] * 513)
        assert_score_error(ei, score.ERR_INVALID_ARGUMENT, "513", "context")
        assert_alive(qwen2)


def test_max_context_at_load(qwen2):
    with score.Model.load(FIXTURES / "qwen2", max_context=16) as m:
        assert m.info.context_length == 16
        assert len(m.logprobs([1] * 16)) == 15
        for call in (m.logprobs, m.last_logits):
            with pytest.raises(score.ScoreError) as ei:
                call([1] * 17)
            assert_score_error(ei, score.ERR_INVALID_ARGUMENT, "17", "16")
        assert_alive(m)


@pytest.mark.parametrize("max_context", [-1, 513])
def test_bad_max_context(max_context, qwen2):
    with pytest.raises(score.ScoreError) as ei:
        score.Model.load(FIXTURES / "qwen2", max_context=max_context)
    assert_score_error(ei, score.ERR_INVALID_ARGUMENT, "max_context")
    with pytest.raises(ValueError):
        score.Model.load(FIXTURES / "qwen2", max_context=2**32 + 16)  # would wrap to 16
    assert_alive(qwen2)


def test_empty_sequence(qwen2):
    for call in (qwen2.logprobs, qwen2.last_logits):
        with pytest.raises(score.ScoreError) as ei:
            call([])
        assert_score_error(ei, score.ERR_INVALID_ARGUMENT)
        assert_alive(qwen2)


def test_closed_model():
    m = score.Model.load(FIXTURES / "qwen2")
    assert not m.closed
    m.close()
    m.close()  # idempotent
    assert m.closed
    for call in (lambda: m.logprobs([1, 2]), lambda: m.last_logits([1, 2]), lambda: m.info):
        with pytest.raises(score.ScoreError) as ei:
            call()
        assert_score_error(ei, score.ERR_INVALID_ARGUMENT, "closed")
    assert "closed" in repr(m)


def test_close_while_a_call_is_running_defers_the_free():
    m = score.Model.load(FIXTURES / "qwen2")
    _ = m.info  # cached, but still refused once closed
    handle = m._acquire()  # as if another thread were inside a C call
    m.close()
    assert m.closed
    with pytest.raises(score.ScoreError):
        m.logprobs([1, 2])
    with pytest.raises(score.ScoreError):
        m.info
    # The handle is still valid until the running call finishes.
    n = ctypes.c_size_t()
    assert _lib.score_model_eos_ids(handle, None, 0, ctypes.byref(n)) in (score.OK, score.ERR_BUFFER_TOO_SMALL)
    assert n.value == 2
    m._release()  # frees now
    m.close()


def test_errors_pickle():
    import pickle

    e = pickle.loads(pickle.dumps(score.ScoreError(score.ERR_IO, "x: no such directory")))
    assert (e.status, e.status_name, str(e)) == (score.ERR_IO, "i/o error", "x: no such directory")
    v = pickle.loads(pickle.dumps(score.ScoreValueError("too big")))
    assert isinstance(v, ValueError) and v.status == score.ERR_INVALID_ARGUMENT


def test_buffer_too_small_is_retried(qwen2):
    # The raw pattern: a short buffer gets BUFFER_TOO_SMALL and *needed.
    tokens = (ctypes.c_int32 * 4)(1, 2, 3, 4)
    buf = (ctypes.c_float * 1)()
    needed = ctypes.c_size_t()
    handle = qwen2._acquire()
    try:
        st = _lib.score_model_logprobs(handle, tokens, 4, buf, 1, ctypes.byref(needed))
    finally:
        qwen2._release()
    assert st == score.ERR_BUFFER_TOO_SMALL and needed.value == 3
    assert "3" in _lib.score_last_error().decode()


def test_context_manager_and_del():
    with score.Model.load(FIXTURES / "qwen2") as m:
        assert_alive(m)
    assert m.closed
    m2 = score.Model.load(FIXTURES / "qwen2")
    del m2  # __del__ frees
    m3 = score.Model.load(FIXTURES / "qwen2")
    m3.__del__()
    m3.__del__()  # never raises, never double-frees
    assert m3.closed
