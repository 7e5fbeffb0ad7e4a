"""What users open: the overlay video and the report page, in a real browser (headless Chromium).

The run folder is served over HTTP on localhost, so the page may read the video's pixels; a check
page plays the overlay, draws a frame on a canvas and loads the report in a frame, then writes what
it saw into the DOM, which Chromium prints (`--dump-dom`). Skipped, with the reason, where no
Chromium is installed (`.ci/run` installs Debian's `chromium`).
"""

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading

import numpy as np
import pytest
import torch

from tests.conftest import fixture_path
from tracknet_cli.inference.video_prediction import VideoOptions
from tracknet_cli.tasks import task_of
from tracknet_cli.weights import builtin_weights, load_weights

CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))),
                None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)")

CHECK_PAGE = """<!doctype html><html><body><pre id="result">pending</pre>
<video id="v" muted playsinline preload="auto" src="OVERLAY"></video><canvas id="c"></canvas>
<iframe id="f" src="REPORT" width="1200" height="1800"></iframe>
<script>
const seen = {};
const done = () => { if ("frame_std" in seen && "report" in seen) result.textContent = JSON.stringify(seen); };
const v = document.getElementById("v");
v.addEventListener("loadeddata", () => {
  Object.assign(seen, {ready_state: v.readyState, duration: v.duration, width: v.videoWidth, height: v.videoHeight});
  v.currentTime = 1.0;
});
v.addEventListener("seeked", () => {
  const c = document.getElementById("c");
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext("2d"); g.drawImage(v, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let sum = 0, sq = 0, n = 0;
  for (let i = 0; i < px.length; i += 4 * 97) { const y = px[i] + px[i + 1] + px[i + 2]; sum += y; sq += y * y; n++; }
  seen.frame_std = Math.sqrt(sq / n - (sum / n) ** 2);
  done();
});
v.addEventListener("error", () => { seen.video_error = String(v.error && v.error.code); seen.frame_std = -1; done(); });
document.getElementById("f").addEventListener("load", () => {
  const d = document.getElementById("f").contentDocument;
  const img = d.querySelector("img"), video = d.querySelector("video");
  const c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext("2d"); g.drawImage(img, 0, 0);
  const px = img.naturalWidth ? g.getImageData(0, 0, c.width, c.height).data : [];
  const colours = new Set();
  for (let i = 0; i < px.length; i += 4 * 101) {
    colours.add(px[i] >> 4 << 8 | px[i + 1] >> 4 << 4 | px[i + 2] >> 4);
  }
  seen.report = {plot_width: img.naturalWidth, plot_colours: colours.size,
                 video_src: video && video.getAttribute("src"), strip: !!d.querySelector("svg polyline"),
                 links: [...d.querySelectorAll("a")].map(a => a.getAttribute("href"))};
  done();
});
</script></body></html>"""


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """predict-video with the built-in model on the real fixture clip (93 frames of 1080p
    broadcast), with the overlay and the report."""
    device = torch.device("cpu")
    model, cfg, _ = load_weights(builtin_weights(), device)
    out = tmp_path_factory.mktemp("run")
    run = task_of(cfg).predict_video(model, cfg, device, VideoOptions(overlay=True))
    return out, run(fixture_path("videos/tennis_broadcast_1080p.mp4"), out)


@pytest.fixture(scope="module")
def served(run_folder):
    out, _ = run_folder
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def chromium(*args, timeout=90):
    return subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio",
                           "--autoplay-policy=no-user-gesture-required", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_the_overlay_plays_and_the_report_shows_it_in_a_browser(run_folder, served):
    out, result = run_folder
    (out / "check.html").write_text(CHECK_PAGE.replace("OVERLAY", result.overlay.name)
                                    .replace("REPORT", result.report.name))
    page = chromium("--virtual-time-budget=20000", "--dump-dom", f"{served}/check.html")
    found = re.search(r'<pre id="result">(.*?)</pre>', page.stdout, re.S)
    assert found and found.group(1) != "pending", page.stderr[-2000:]
    seen = json.loads(found.group(1).replace("&quot;", '"'))
    assert "video_error" not in seen, seen  # the browser decodes the codec we wrote
    assert seen["ready_state"] >= 2
    assert seen["duration"] == pytest.approx(93 / 30, abs=0.05)
    assert (seen["width"], seen["height"]) == (1920, 1080)
    assert seen["frame_std"] > 20  # a drawn picture, not a blank frame
    report = seen["report"]
    assert report["plot_width"] > 500 and report["plot_colours"] > 20  # the plot loaded and has content
    assert report["video_src"] == result.overlay.name and report["strip"]
    assert set(report["links"]) == {p.name for p in (result.csv, result.events_csv, result.overlay, result.plot)}


def test_the_report_screenshot_shows_the_plot(run_folder, tmp_path):
    out, result = run_folder
    shot = tmp_path / "report.png"
    chromium("--window-size=1200,2200", "--hide-scrollbars", f"--screenshot={shot}", result.report.as_uri())
    import cv2

    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2200, 1200)
    plot = cv2.imread(str(result.plot))
    # the plot appears on the page: its template matches somewhere, scaled to the page's width
    scale = (1200 - 2 * 16 - 2 * 50) / plot.shape[1]
    for factor in np.linspace(0.85, 1.15, 13):
        small = cv2.resize(plot, None, fx=scale * factor, fy=scale * factor, interpolation=cv2.INTER_AREA)
        if small.shape[0] < image.shape[0] and small.shape[1] < image.shape[1]:
            if cv2.minMaxLoc(cv2.matchTemplate(image, small, cv2.TM_CCOEFF_NORMED))[1] > 0.8:
                return
    pytest.fail("the trajectory plot is not visible on the report's screenshot")


def test_every_file_of_the_report_is_inside_the_run_folder(run_folder):
    out, result = run_folder
    html = result.report.read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references and all("/" not in ref and ":" not in ref for ref in references)  # relative, no network
    assert all((out / ref).is_file() for ref in references)
