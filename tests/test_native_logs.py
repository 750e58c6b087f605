"""MediaPipe/absl/TFLite log lines are dropped from descriptor 2; everything else passes, in order."""
from __future__ import annotations

import os
import subprocess
import sys

from stream_fixtures import REPO

from partkd_stream.native_logs import LineFilter

NOISE = [b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
         b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
         b"W0000 00:00:1795700340.527084    8384 inference_feedback_manager.cc:114] Feedback manager requires a "
         b"model with a single signature inference. Disabling support for feedback tensors.\n",
         b"I0000 00:00:1752489631.572373  129295 gl_context_egl.cc:85] Successfully initialized EGL.\n",
         b"W1126 13:38:01.123456  7853 landmark_projection_calculator.cc:186] Using NORM_RECT without ...\n",
         b"[2026-12-07 23:32:45,161 W 32094 32094] gcs_client.cc:210: Failed to get cluster ID from GCS server: "
         b"Unauthenticated: RPC error: InvalidAuthToken: Authentication token is missing or incorrect\n"]
KEEP = [b"E0000 00:00:1795700340.527084    8384 graph.cc:1] a real error\n",
        b"partkd-stream: warning: x.avi: decoded 27 of the 103 frames\n",
        b"Traceback (most recent call last):\n", b"WARNING: something else\n", b"Whatever\n",
        b"[2026-12-07 23:32:45,161 E 32094 32094] core_worker.cc:1: a real error\n"]


def test_noise_lines_go_and_the_rest_stays_in_order():
    f = LineFilter()
    data = b"".join(x for pair in zip(NOISE, KEEP) for x in pair)
    out = b"".join(f.feed(data[i:i + 7]) for i in range(0, len(data), 7)) + f.flush()   # arbitrary chunking
    assert out == b"".join(KEEP)


def test_a_partial_line_is_forwarded_at_once_unless_it_may_be_noise():
    f = LineFilter()
    assert f.feed(b"\rbar  40%|####") == b"\rbar  40%|####"          # a progress bar is not held back
    assert f.feed(b" 50%\n") == b" 50%\n"
    assert f.feed(b"W0000 00:00:17") == b""                           # may be an absl line: wait for the newline
    assert f.feed(b"95700340.5 1 x.cc:1] noise\nWorld\n") == b"World\n"


def test_descriptor_2_is_filtered_while_an_estimator_is_open_and_restored_after():
    script = ("import os, sys\n"
              "from partkd_stream.native_logs import filter_native_stderr\n"
              "with filter_native_stderr():\n"
              "    os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
              "    os.write(2, b'E0000 00:00:1.5 1 x.cc:1] kept\\n')\n"
              "    print('python line', file=sys.stderr)\n"
              "os.write(2, b'INFO: after the filter, untouched\\n')\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
                       cwd=REPO, timeout=60)
    assert r.returncode == 0
    lines = r.stderr.decode().splitlines()     # Python's own line goes straight to the console, so it may be first
    assert sorted(lines[:2]) == ["E0000 00:00:1.5 1 x.cc:1] kept", "python line"]
    assert lines[2:] == ["INFO: after the filter, untouched"]
