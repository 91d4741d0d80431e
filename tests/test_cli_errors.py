"""Bad input reaches the user as one `error: ...` line naming the file, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_eval_on_missing_folder(tiny_split: Path, tmp_path: Path):
    assert_one_line_error(run("eval.cli", "--pred", str(tmp_path / "nope"), "--gt", str(tiny_split)), "nope", "not found")


def test_eval_on_folder_without_videos(tiny_split: Path, tmp_path: Path):
    (tmp_path / "notes.txt").write_text("not a video")
    assert_one_line_error(run("eval.cli", "--pred", str(tmp_path), "--gt", str(tiny_split)), str(tmp_path), "no videos")


@pytest.mark.parametrize("bad", ["shape", "nan"])
def test_split_with_bad_keypoints_names_the_file(tiny_split: Path, tmp_path: Path, bad: str):
    import shutil

    from mmgt.data.layout import Split

    root = tmp_path / "split"
    shutil.copytree(tiny_split, root)
    clip = Split(root).clips("test")[0]
    kp = np.load(clip.keypoints_path)
    np.save(clip.keypoints_path, kp[:, :100] if bad == "shape" else np.where(kp == kp.max(), np.nan, kp))
    problems = Split(root).validate("test")
    assert len(problems) == 1 and problems[0].path == clip.keypoints_path
    assert ("shape" if bad == "shape" else "NaN") in str(problems[0])


def test_truncated_video_is_named(tiny_split: Path, tmp_path: Path):
    import shutil

    from mmgt.data.layout import Split
    from mmgt.errors import DataError

    root = tmp_path / "split"
    shutil.copytree(tiny_split, root)
    clip = Split(root).clips("test")[0]
    data = clip.video_path.read_bytes()
    clip.video_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as err:
        clip.frames()
    assert str(clip.video_path) in str(err.value)
