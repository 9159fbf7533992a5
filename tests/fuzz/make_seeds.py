#!/usr/bin/env python3
"""Writes the committed seed corpora under tests/fuzz/corpus/<target>/ (standard library only).

    python3 tests/fuzz/make_seeds.py

Seeds are small: fixture models under 20 KB, example config.toml files, pipeline snippets from
tests/pipeline.rs and src/pipeline's docs, the fixture images and a few hand-made PNGs, and C ABI
programs written in the byte language of fuzz_targets/c_abi_sequence.rs (see `Program::step`).
Running it again rewrites the same files.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
CORPUS = os.path.join(HERE, "corpus")


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- model_bytes: every fixture model under 20 KB --------------------------------------------
for f in sorted(os.listdir(FIXTURES)):
    p = os.path.join(FIXTURES, f)
    if f.endswith(".onnx") and os.path.getsize(p) < 20_000:
        out("model_bytes", f, open(p, "rb").read())
# and the models of other value types (strings, sequences, maps, optionals, packed types)
for f in sorted(os.listdir(os.path.join(FIXTURES, "values"))):
    p = os.path.join(FIXTURES, "values", f)
    if f.endswith(".onnx"):
        out("model_bytes", "values_" + f, open(p, "rb").read())

# --- config_toml -------------------------------------------------------------------------------
out("config_toml", "classifier.toml", open(os.path.join(REPO, "examples/models/classifier/config.toml")).read())
out(
    "config_toml",
    "everything.toml",
    """[versions]
policy = "latest"
latest = 2
specific = [1, 3]
labels = { stable = 1, canary = 2 }

[split]
weights = { stable = 90, canary = 10 }

[batching]
max_batch_size = 32
max_queue_delay_us = 0
preferred_batch_sizes = []
max_queue_size = 1024
default_timeout_us = 0

[instances]
count = 2
intra_op_threads = 1
inter_op_threads = 1
optimization_level = "all"

[integrity]
max_model_bytes = 500_000_000
sha256 = { 2 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }

[warmup]
inputs = "zeros"
count = 2
""",
)
out("config_toml", "specific.toml", '[versions]\npolicy = "specific"\nspecific = [1, 3]\n')
out("config_toml", "split_versions.toml", '[versions]\npolicy = "latest"\nlatest = 3\nlabels = { stable = 1 }\n[split]\nweights = { stable = 50, 2 = 50 }\n[instances]\ncount = 1\n')
out("config_toml", "warmup_file.toml", '[warmup]\ninputs = "file"\nfile = "warm.tpk"\ncount = 1\n')
out("config_toml", "batching_timed.toml", "[batching]\nmax_batch_size = 8\nmax_queue_delay_us = 500\npreferred_batch_sizes = [4, 8]\nmax_queue_size = 16\ndefault_timeout_us = 100000\nbatchable = true\n")
out("config_toml", "typo.toml", '[versions]\npolicy = "latest"\nlatst = 2\n')
out(
    "config_toml",
    "pipeline.toml",
    '[pipeline]\ninput = "x"\noutput = "y"\npre = [ { op = "add_batch_dim" } ]\npost = [ { op = "softmax" }, { op = "top_k", k = 3, labels = "labels.txt" } ]\n',
)
out(
    "config_toml",
    "pipeline_image.toml",
    '[pipeline]\nimage = [ { op = "resize", width = 192, height = 48 } ]\npre = [ { op = "scale", factor = 0.00392156862745098 }, { op = "normalize", mean = [0.5, 0.5, 0.5], std = [0.5, 0.5, 0.5] }, { op = "layout", from = "hwc", to = "chw" }, { op = "add_batch_dim" } ]\n',
)

# --- pipeline_spec: bodies of a [pipeline] table --------------------------------------------------
PIPELINES = {
    "doc_example.toml": """input = "image"
output = "y"
pre = [
  { op = "scale", factor = 0.00392157 },
  { op = "normalize", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225], axis = -1 },
  { op = "layout", from = "hwc", to = "chw" },
  { op = "add_batch_dim" },
]
post = [ { op = "softmax" }, { op = "top_k", k = 3, labels = "tests/fixtures/tiny_cnn_labels.txt" } ]
""",
    "tiny_cnn_exact.toml": 'image = [ { op = "resize", width = 8, height = 8, fit = "exact", filter = "bilinear" } ]\npre = [ { op = "scale", factor = 0.00392156862745098 }, { op = "normalize", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225] }, { op = "layout", from = "hwc", to = "chw" }, { op = "add_batch_dim" } ]\n',
    "letterbox.toml": 'image = [ { op = "resize", width = 8, height = 8, fit = "letterbox", filter = "nearest", pad = 114 }, { op = "swap_channels" } ]\npre = [ { op = "scale", factor = 0.0039, offset = -0.5 }, { op = "clip", min = -1.0, max = 1.0 }, { op = "layout", from = "hwc", to = "chw" }, { op = "add_batch_dim" } ]\npost = [ { op = "sigmoid" }, { op = "top_k", k = 2 } ]\n',
    "shorter_side_crop.toml": 'image = [ { op = "resize", width = 12, height = 12, fit = "shorter_side", filter = "linear" }, { op = "crop", x = 2, y = 2, width = 8, height = 8 } ]\npre = [ { op = "standardize" }, { op = "layout", from = "hwc", to = "chw" }, { op = "add_batch_dim" } ]\npost = [ { op = "argmax" } ]\n',
    "reshape_cast.toml": 'image = [ { op = "resize", width = 8, height = 8 } ]\npre = [ { op = "cast", to = "f32" }, { op = "layout", from = "hwc", to = "chw" }, { op = "reshape", shape = [1, 3, 8, -1] } ]\npost = [ { op = "dequantize", scale = 0.5, zero_point = 3.0 }, { op = "softmax", axis = 1 } ]\n',
    "nhwc.toml": 'image = [ { op = "resize", width = 8, height = 8 } ]\npre = [ { op = "scale", factor = 0.004 }, { op = "add_batch_dim" }, { op = "layout", from = "nhwc", to = "nchw" } ]\n',
    "u8_mismatch.toml": 'image = [ { op = "resize", width = 8, height = 8 } ]\npre = [ { op = "layout", from = "hwc", to = "chw" }, { op = "add_batch_dim" }, { op = "cast", to = "u8" } ]\n',
    "unknown_op.toml": 'pre = [ { op = "blur" } ]\n',
    "topk_not_last.toml": 'post = [ { op = "top_k", k = 2 }, { op = "sigmoid" } ]\n',
    "sequence.toml": "sequence = { max_length = 6, pad_id = 0 }\n",
    "empty.toml": "",
}
for name, text in PIPELINES.items():
    out("pipeline_spec", name, text)

# --- encoded_image: the fixture images and a few small PNGs of other kinds ------------------------
out("encoded_image", "image.png", open(os.path.join(FIXTURES, "image.png"), "rb").read())
out("encoded_image", "image.jpg", open(os.path.join(FIXTURES, "image.jpg"), "rb").read())


def png(width, height, color_type, bit_depth, rows, palette=None, interlace=0):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace))
    if palette:
        data += chunk(b"PLTE", palette)
    return data + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


out("encoded_image", "rgb_1x1.png", png(1, 1, 2, 8, [b"\x10\x80\xf0"]))
out("encoded_image", "gray_3x2.png", png(3, 2, 0, 8, [b"\x00\x7f\xff", b"\xff\x7f\x00"]))
out("encoded_image", "rgba_2x2.png", png(2, 2, 6, 8, [b"\x01\x02\x03\x04\x05\x06\x07\x08", b"\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"]))
out("encoded_image", "palette_2x2.png", png(2, 2, 3, 8, [b"\x00\x01", b"\x01\x00"], palette=b"\xff\x00\x00\x00\x00\xff"))
out("encoded_image", "rgb16_2x1.png", png(2, 1, 2, 16, [b"\x00\x01\x02\x03\x04\x05\xff\xfe\xfd\xfc\xfb\xfa"]))
out("encoded_image", "gray1bit_8x1.png", png(8, 1, 0, 1, [b"\xa5"]))
out("encoded_image", "interlaced_1x1.png", png(1, 1, 2, 8, [b"\x10\x20\x30"], interlace=1))
out("encoded_image", "wide_300x1.png", png(300, 1, 0, 8, [bytes(range(256)) + bytes(44)]))
jpg = open(os.path.join(FIXTURES, "image.jpg"), "rb").read()
out("encoded_image", "truncated.jpg", jpg[: len(jpg) // 2])

# --- c_abi_sequence: programs in the byte language of c_abi_sequence.rs -----------------------------
# Op numbers (byte % 30) and what each reads next, in order; see Program::step. A program's
# "requests" are inferkit_request objects made on one of its models (NEW_REQUEST); inputs, pipeline
# inputs and options are set on them, and RUN / SUBMIT run them.
OPEN, OPEN_BYTES, OPTIONS, FREE_OPTIONS, NEW_REQUEST, ADD_RAW, ADD_MATCHING = 0, 2, 3, 4, 5, 6, 7
CLEAR, FREE_REQUEST, RUN, SUBMIT, CANCEL, FREE_PENDING, CLONE, CLOSE_MODEL = 9, 10, 11, 13, 15, 16, 17, 18
TOUCH_OUTPUTS, FREE_OUTPUTS, REQUEST_OPTIONS, QUERY, PIPELINED, STASH, SPAWN = 19, 20, 21, 22, 23, 24, 25
ADD_VALUE, DEADLINE, MIX, ADD_STRINGS = 26, 27, 28, 29
FIX = {n: i for i, n in enumerate(["mlp", "two_io", "identity_all", "int_bool", "f16", "gather", "sequence", "tiny_cnn", "tiny_text", "image224_f32", "mlp_v2", "empty", "corrupt", "truncated", "missing", "dir", "slow", "seq_len", "seq_split", "strings", "zipmap", "dict_in", "optional", "two_bit", "nonutf8"])}
ASK = 1  # error_out wanted (any byte % 8 != 0)
# The byte after a run: 0 submits the request again once it ran (it must be accepted), 1 does not.
RESUBMIT, NO_RESUBMIT = 0, 1


def open_model(fixture, options_index=None):
    if options_index is None:
        return [OPEN, FIX[fixture], 0, 1, ASK]
    return [OPEN, FIX[fixture], 1, options_index, 1, ASK]


def new_request(model):
    # model, request_out wanted, error_out
    return [NEW_REQUEST, model, 1, ASK]


def matching(request, model, batch=1, seq=3, copy=0, n_inputs=1):
    # batch, seq, copy, then per input: fill selector (0: zeros), offset (1: aligned)
    return [ADD_MATCHING, request, model, batch, seq, copy] + [0, 1] * n_inputs


def run_tail(then=NO_RESUBMIT):
    # outputs_out wanted, error_out, submit again after an OK run
    return [1, ASK, then]


def run(request, mode=0, then=NO_RESUBMIT):
    # mode 0: as it is (mode 1 reads a timeout, mode 2 output names, before the run)
    return [RUN, request, mode] + run_tail(then)


def submit(model, request, flags, resubmit=()):
    # model (whose handle the callback may close), request, flags (1: pending handle wanted,
    # 2: stash the result, 4: the callback submits a request of its own, 8: the callback closes a
    # clone of `model`, or with 0x80 `model` itself; 0x70: a callback at all), then the reads of
    # the callback's own request (`matching` without op, request and model), error_out
    return [SUBMIT, model, request, flags] + list(resubmit) + [ASK]


def query(model):
    # io, index, axis, then error_out of tensor_info, tensor_dim, value_type, stats; json; error_out
    return [QUERY, model, 0, 0, 0, ASK, ASK, ASK, ASK, 1, ASK]


def deadline(request, choice, then_run=False):
    # choice: 0 none, 1 long past, 2 now (past when it runs), 3 in 1 ms, 4 in 10 s, 5 any (8 bytes)
    return [DEADLINE, request, choice, ASK] + ([1] + run_tail() if then_run else [0])


def mix(request, tensor_first, adder, setter, then_run=False):
    # adder: 0 borrowed f32, 1 copied f32, 2 strings, 3 value; setter: 0 raw tensor, 1 pixels,
    # 2 encoded, 3 text, 4 token ids
    return [MIX, request, int(tensor_first), adder, setter] + ([1] + run_tail() if then_run else [0])


# A raw f32[16] tensor for the pipeline (what mlp takes once add_batch_dim has run): dtype F32,
# rank 1, dim DIMS[5] = 16, exact length, shape and data given, fill 0, aligned.
RAW_F32_16 = [0, 1, 5, 3, 1, 1, 0, 1]

programs = {
    # sequences of maps and sequences of tensors come back as values (touch_outputs walks them)
    "values_out.bin": open_model("zipmap") + open_model("seq_split") + new_request(0) + new_request(1)
    + matching(0, 0, batch=2) + run(0) + [TOUCH_OUTPUTS, 0]
    + matching(1, 1, batch=5) + run(1) + [TOUCH_OUTPUTS, 1, FREE_OUTPUTS, 0, FREE_OUTPUTS, 0],
    # the request holds its model: it runs after the program closed its only handle
    "mlp_sync.bin": open_model("mlp") + new_request(0) + matching(0, 0) + run(0, then=RESUBMIT)
    + [TOUCH_OUTPUTS, 0, FREE_OUTPUTS, 0] + query(0) + [CLOSE_MODEL, 0] + run(0) + [FREE_REQUEST, 0],
    "two_io_async_cancel.bin": open_model("two_io")
    + [CLONE, 0] + new_request(0)
    + matching(0, 0, batch=2, n_inputs=2)
    + submit(0, 0, 0x13) + [CANCEL, 0]
    + submit(1, 0, 0x17, resubmit=[2, 3, 0, 0, 1, 0, 1])
    + [STASH, 4, FREE_PENDING, 0, CLOSE_MODEL, 0],
    # borrowed inputs of every dtype, run as they are, then with a 1 ms timeout
    "identity_all_borrowed.bin": open_model("identity_all") + new_request(0) + matching(0, 0, batch=1, n_inputs=13)
    + run(0) + [RUN, 0, 1, 2, ASK] + run_tail(RESUBMIT) + [FREE_REQUEST, 0],
    # options: flags (instances, batching), 1 instance; max_batch 4, delay 200 us, queue 1024,
    # no timeout; preferred sizes [1, 2]
    "timed_batching.bin": [OPTIONS, 0b0011, 1, ASK, 2, 2, 3, 0, ASK, 2, ASK]
    + open_model("mlp", 0)
    + new_request(0)
    + matching(0, 0, batch=2)
    + [SPAWN, 0, 1, 3, 0, 0, 1, 5]
    + submit(0, 0, 0x11) + submit(0, 0, 0x13) + [CANCEL, 1]
    + run(0)
    + [CLOSE_MODEL, 0],
    "raw_inputs.bin": open_model("int_bool")
    + new_request(0)
    # name from model 0 input 0, dtype byte, rank 2, dims (1, 4), len mode exact, shape, data, fill, offset, copy, error
    + [ADD_RAW, 0, 2, 0, 0, 0, 7, 2, 0, 3, 3, 1, 1, 0, 1, 0, ASK]
    + [ADD_RAW, 0, 1, 3, 0x41, 0x42, 0x43, 1, 3, 11, 12, 13, 4, 1, 1, 2, 1, 1, ASK]
    + run(0)
    # clear, then check the empty request takes a pipeline input
    + [CLEAR, 0, 1]
    + [FREE_REQUEST, 0],
    # options: flags (instances, pipeline), 1 instance, PIPELINES[1] (resize to 8x8, top_k)
    "pipeline_image.bin": [OPTIONS, 0b1001, 1, ASK, 1, 1, ASK]
    + open_model("tiny_cnn", 0)
    + new_request(0)
    # pixels: format byte, width, height, stride pad, stride cut, len mode, fill, offset, stride max,
    # error; then 1: run (classes from top_k), and submit it again
    + [PIPELINED, 0, 0, 0, 13, 9, 1, 1, 2, 3, 0x55, 1, 1, ASK, 1] + run_tail(RESUBMIT)
    # the fixture JPEG, run
    + [PIPELINED, 0, 1, 1, ASK, 2] + run_tail()
    # four bytes that are no image, submitted
    + [PIPELINED, 0, 1, 2, 4, 0x89, 0x50, 0x4E, 0x47, ASK, 3]
    # tensors refused while the pixels are there; token ids replace them
    + mix(0, True, 1, 4)
    + [CLOSE_MODEL, 0],
    # options: PIPELINES[4] (sequence of 6), token ids padded and truncated
    "sequence_ids.bin": [OPTIONS, 0b1001, 1, ASK, 1, 4, ASK]
    + open_model("tiny_text", 0)
    + new_request(0)
    + [PIPELINED, 0, 2, 4, 101, 7, 8, 102, 1, ASK, 1] + run_tail(RESUBMIT)
    + [PIPELINED, 0, 2, 0, 1, ASK, 3],
    # options: PIPELINES[0] (add_batch_dim, softmax, top_k 3) on mlp, fed a raw f32[16]
    "pipeline_tensor.bin": [OPTIONS, 0b1001, 1, ASK, 1, 0, ASK]
    + open_model("mlp", 0)
    + new_request(0)
    + [PIPELINED, 0, 4] + RAW_F32_16 + [ASK, 1] + run_tail(RESUBMIT)
    + [TOUCH_OUTPUTS, 0]
    + deadline(0, 1, then_run=True)
    + [PIPELINED, 0, 4] + RAW_F32_16 + [ASK, 3],
    "nulls_and_errors.bin": [OPEN, FIX["nonutf8"], 0, 1, ASK, OPEN, FIX["empty"], 0, 1, ASK, OPEN, FIX["dir"], 0, 1, ASK, OPEN, FIX["missing"], 0, 0, 0]
    + new_request(0)
    + run(0) + submit(0, 0, 0x10)
    + [REQUEST_OPTIONS, 0, 1, ASK, 1, 2, 1, 3, 0x41, 0x42, 0x43, 0, 0, 0]
    + [QUERY, 0, 2, 4, 4, ASK, ASK, ASK, 0, 0, 0]
    + [PIPELINED, 0, 2, 0, 1, ASK, 1] + run_tail()
    + mix(0, False, 3, 2) + deadline(0, 3)
    + [ADD_STRINGS, 0, 0, 1, 2, 1, 0x61, 1, 0x62, 1, 0, ASK]
    + [FREE_OPTIONS, 0, CANCEL, 0, FREE_PENDING, 0]
    + [OPEN_BYTES, 0, 0, 0, 1, ASK],
    # a 1 ms timeout and one output asked for (model 0's output 0), then run and submitted
    "timeout_options.bin": open_model("gather")
    + new_request(0)
    + [REQUEST_OPTIONS, 0, 2, ASK, 1, 1, 2, 0, 1, 0, 2, ASK]
    + matching(0, 0, batch=1, n_inputs=2)
    + run(0, then=RESUBMIT)
    + submit(0, 0, 0x10),
    # one instance, queue of 2; a thread runs 256 rows through slow.onnx while the program submits
    # requests that queue behind it (one of them with a 1 us timeout), cancels two and frees
    # everything
    "slow_queue.bin": [OPTIONS, 0b0011, 1, ASK, 1, 0, 2, 0, ASK, 0, ASK]
    + open_model("slow", 0)
    + new_request(0) + new_request(0)
    + matching(0, 0, batch=1) + matching(1, 0, batch=1)
    + [REQUEST_OPTIONS, 1, 1, ASK, 0]
    + [SPAWN, 0, 3, 3, 0, 0, 1, 4]
    + submit(0, 0, 0x13) + submit(0, 1, 0x11) + submit(0, 0, 0x11)
    + [CANCEL, 0, CANCEL, 1, CLOSE_MODEL, 0, FREE_REQUEST, 0, STASH, 8],
    # the callback closes the only handle to the model, from inside the submit that runs it
    # (flags: pending handle, close `model` itself, callback), then the pending handle is read and
    # freed; then the same on two_io with clones, and the request freed while its submissions run
    "callback_frees_last_handle.bin": open_model("mlp")
    + new_request(0)
    + matching(0, 0)
    + submit(0, 0, 0x99) + [CANCEL, 0, FREE_PENDING, 0]
    + open_model("two_io")
    + [CLONE, 0] + new_request(0)
    + matching(1, 0, batch=2, n_inputs=2)
    + submit(1, 1, 0x19) + submit(0, 1, 0x99) + submit(0, 1, 0x19)
    + [FREE_REQUEST, 1],
    # tensors and a pipeline input on one request, in every order; clear empties it
    "mix_and_clear.bin": open_model("mlp")
    + new_request(0)
    + matching(0, 0, batch=2)
    + mix(0, True, 0, 4) + mix(0, False, 2, 1)
    + [CLEAR, 0, 0]
    + mix(0, False, 3, 0, then_run=True)
    # refused: the request carries a raw tensor for the pipeline (name "x", rank 1, dim 2, "a", "b")
    + [ADD_STRINGS, 0, 1, 1, 0x78, 1, 2, 1, 0x61, 1, 0x62, 1, 1, ASK]
    + [CLEAR, 0, 1]
    + mix(0, True, 1, 3, then_run=True),
    # deadlines: long past (the run must fail), in 10 s (runs), now (the submission is answered
    # DEADLINE_EXCEEDED), removed
    "deadlines.bin": open_model("mlp")
    + new_request(0)
    + matching(0, 0, batch=3)
    + deadline(0, 1, then_run=True)
    + deadline(0, 4, then_run=True)
    + deadline(0, 2) + submit(0, 0, 0x11)
    + deadline(0, 0, then_run=True),
    # string tensors: words from the program (name of model 0's input 0), run
    "strings.bin": open_model("strings")
    + new_request(0)
    # name: model 0 input 0; rank 1, dim 2; two strings "cat" and "do"; no NULL; lengths; error
    + [ADD_STRINGS, 0, 2, 0, 0, 0, 1, 2, 3, 0x63, 0x61, 0x74, 2, 0x64, 0x6F, 1, 1, ASK]
    + run(0, then=RESUBMIT) + [TOUCH_OUTPUTS, 0],
}
for name, prog in programs.items():
    out("c_abi_sequence", name, bytes(b & 0xFF for b in prog))
