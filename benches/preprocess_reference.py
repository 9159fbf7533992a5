#!/usr/bin/env python3
"""The preprocessing benchmark's reference side: the same steps as inferkit's pipeline, done the
way Python serving code does them, timed on the same frame.

    python3 benches/preprocess_reference.py FRAME.rgb WIDTH HEIGHT ITERATIONS

Prints JSON: the median milliseconds of each way, for f32 and f16 output. Steps: resize the RGB8
frame to 224x224 (bilinear), scale to [0, 1], normalise with ImageNet's mean and std, HWC to CHW,
add a batch dim, and for f16 cast.
- "pillow": Image.fromarray, Image.resize(BILINEAR), then numpy (a typical TorchServe handler).
- "opencv": cv2.resize(INTER_LINEAR), then numpy.
"""
import json
import statistics
import sys
import time

import cv2
import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def finish(resized, dtype):
    x = (resized.astype(np.float32) / 255.0 - MEAN) / STD
    x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    return x.astype(dtype) if dtype != np.float32 else x


def pillow(frame, dtype):
    return finish(np.asarray(Image.fromarray(frame, "RGB").resize((224, 224), Image.Resampling.BILINEAR)), dtype)


def opencv(frame, dtype):
    return finish(cv2.resize(frame, (224, 224), interpolation=cv2.INTER_LINEAR), dtype)


def median_ms(fn, frame, dtype, iterations):
    fn(frame, dtype)  # warm up
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn(frame, dtype)
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times)


if __name__ == "__main__":
    path, width, height, iterations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cv2.setNumThreads(1)  # one thread, like inferkit's pipeline on the caller's thread
    frame = np.fromfile(path, dtype=np.uint8).reshape(height, width, 3)
    result = {}
    for name, fn in (("pillow", pillow), ("opencv", opencv)):
        for label, dtype in (("f32", np.float32), ("f16", np.float16)):
            result[f"{name}_{label}_ms"] = median_ms(fn, frame, dtype, iterations)
    print(json.dumps(result))
