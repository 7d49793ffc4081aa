"""Drives `backprop lab` in headless Chromium as a learner would (run by tests/lab.rs).

Usage: python3 tests/lab_browser.py URL [SCREENSHOT_DIR]

Checks, against values computed here by hand (not by the lab):
1. the graph stepper: type x*y + exp(z), set x, y, z, step node by node through the forward
   and backward passes and read the inputs' derivatives from the page;
2. the book's apple-orange graph: 715, 2.2, 110, 3.3, 165 and 650 on the page;
3. the layer bench: Affine's backprop and numerical gradients agree on the page;
4. a short training run on the embedded digits: the loss chart and the histograms update
   while it runs, and the report appears at the end.
With SCREENSHOT_DIR, saves lab-graph.png, lab-bench.png and lab-train.png there.
"""

import math
import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

URL = sys.argv[1]
SHOTS = sys.argv[2] if len(sys.argv) > 2 else None


def browser():
    opts = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1300,1000",
                 "--user-data-dir=" + tempfile.mkdtemp(prefix="lab-chromium-")]:
        opts.add_argument(flag)
    binary = os.environ.get("CHROMIUM")
    if binary:
        opts.binary_location = binary
    driver = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    return webdriver.Chrome(service=Service(driver), options=opts)


d = browser()
wait = WebDriverWait(d, 30)
# Read through script, in one go: the page redraws parts of itself as events arrive.
text = lambda css: d.execute_script(
    "const e = document.querySelector(arguments[0]); return e ? e.textContent : null", css)
attr = lambda css, name: d.execute_script(
    "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null",
    css, name)
texts = lambda css: d.execute_script(
    "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)", css)


def close(got, want, what):
    assert abs(float(got) - want) <= 1e-5 * max(1.0, abs(want)), f"{what}: page says {got}, by hand {want}"


def set_value(name, v):
    box = d.find_element(By.ID, "val-" + name)
    box.clear()
    box.send_keys(str(v), Keys.TAB)  # the change event re-evaluates


try:
    d.get(URL)
    # 1. The stepper on x*y + exp(z) at x = 2, y = 3, z = 0.5.
    wait.until(lambda d: d.find_elements(By.ID, "grad-z"))
    expr = d.find_element(By.ID, "expr")
    expr.clear()
    expr.send_keys("x*y + exp(z)", Keys.ENTER)
    wait.until(lambda d: d.find_elements(By.ID, "val-x"))
    for name, v in [("x", 2), ("y", 3), ("z", 0.5)]:
        set_value(name, v)
        wait.until(lambda d, name=name, v=v: d.execute_script(
            "const r = [...document.querySelectorAll('#grads tbody tr')]"
            ".find(r => r.cells[0].textContent === arguments[0]); return r && r.cells[1].textContent",
            name) == str(v))
    assert text("#grad-x") == "?", "no derivative before the backward pass"
    rules = []
    for _ in range(6):  # 3 operations forward, then 3 backward
        d.find_element(By.ID, "step").click()
        rules.append(text("#rule"))
    assert rules[0].startswith("Forward"), rules
    assert any("× multiplies its inputs: 2 × 3 = 6" in r for r in rules), rules
    assert any("forward pass done: f = " in r for r in rules), rules
    assert any("× sends each input the other input times the upstream derivative" in r for r in rules), rules
    assert any("exp multiplies by its own output" in r for r in rules), rules
    assert "backward pass done" in rules[-1], rules[-1]
    # ∂f/∂x = y, ∂f/∂y = x, ∂f/∂z = e^z; f = xy + e^z.
    close(text("#grad-x"), 3, "∂f/∂x")
    close(text("#grad-y"), 2, "∂f/∂y")
    close(text("#grad-z"), math.exp(0.5), "∂f/∂z")
    close(text("#out-value"), 6 + math.exp(0.5), "f")
    # Stepping back hides the derivatives again.
    d.find_element(By.ID, "step-back").click()
    assert text("#grad-x") == "?" or text("#grad-y") == "?", "one step back un-does the last send"
    d.find_element(By.ID, "to-end").click()

    # 2. The book's apple-orange graph (fig. 5-17).
    d.find_element(By.ID, "book-apple-orange").click()
    wait.until(lambda d: d.find_elements(By.ID, "grad-orange_num"))
    d.find_element(By.ID, "to-end").click()
    page = {k: text("#grad-" + k) for k in ["apple", "apple_num", "orange", "orange_num", "tax"]}
    assert text("#out-value") == "715", text("#out-value")
    assert page == {"apple": "2.2", "apple_num": "110", "orange": "3.3", "orange_num": "165", "tax": "650"}, page
    # The same numbers under the arrows of the drawing.
    svg_text = texts("#graph-svg text.bwd")
    for want in ["2.2", "110", "3.3", "165", "650", "1.1"]:
        assert want in svg_text, (want, svg_text)
    if SHOTS:
        for _ in range(3):  # half-way through the backward pass, as in fig. 5-17's text
            d.find_element(By.ID, "step-back").click()
        d.save_screenshot(os.path.join(SHOTS, "lab-graph.png"))

    # 3. The layer bench.
    d.find_element(By.ID, "tab-bench").click()
    Select(d.find_element(By.ID, "layer")).select_by_value("Affine")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".rel-err")) == 3)
    for e in texts(".rel-err"):
        assert float(e.split()[0]) < 1e-6, e
    # db is dout summed over the batch: checked here from the page's own dout.
    dout = d.execute_script(
        "return [...document.querySelectorAll('#bench-dout tr')].map(r => [...r.cells].map(c => +c.textContent))")
    db = [float(v) for v in texts("#bench-db-backprop td")]
    for j, v in enumerate(db):
        close(v, sum(row[j] for row in dout), f"db[{j}]")
    if SHOTS:
        d.save_screenshot(os.path.join(SHOTS, "lab-bench.png"))

    # 4. A short run on the embedded digits.
    d.find_element(By.ID, "tab-train").click()
    # Long enough for several snapshots (at most one every 200 ms) on a fast core: 150
    # epochs of the 8×8 digits took 0.19 s on Zen 4, and the page then saw only the first
    # and the last.
    for field, v in [("hidden", "50,50"), ("epochs", "500"), ("lr", "0.1")]:
        box = d.find_element(By.ID, field)
        box.clear()
        box.send_keys(v)
    Select(d.find_element(By.ID, "activation")).select_by_value("relu")
    Select(d.find_element(By.ID, "init")).select_by_value("he")
    d.find_element(By.ID, "start-run").click()
    # Watch the page while the run goes on: the loss chart and the histograms must be drawn
    # several times with different data before the report appears.
    paths, iters, deadline = set(), set(), time.time() + 120
    while not text("#summary-text") and time.time() < deadline:
        paths.add(attr("#loss-chart path.series", "d"))
        iters.add(attr("#hist-act", "data-iter"))
        time.sleep(0.02)
    paths.discard(None)
    iters.discard(None)
    assert text("#summary-text"), "the run ends with its report"
    assert len(paths) >= 3 and len(iters) >= 3, (len(paths), sorted(iters))
    assert len(texts("#hist-act svg")) == 2, "two hidden layers"
    assert len(texts("#hist-grad svg")) == 3, "W1, W2, W3"
    assert attr("#weights", "src").startswith("data:image/png;base64,")
    assert texts("#health li")
    summary = text("#summary-text")
    acc = float(summary.split("test accuracy ")[1].rstrip("."))
    # A 64-50-50-10 ReLU net learns the 8×8 digits far past chance (10 %) in 500 epochs.
    assert acc > 0.8, summary
    if SHOTS:
        d.execute_script("window.scrollTo(0, 0)")
        d.save_screenshot(os.path.join(SHOTS, "lab-train.png"))
    # The report that train --report writes, linked from the page at the end.
    wait.until(lambda d: attr("#report-link", "href"))
    d.get(URL.rstrip("/") + attr("#report-link", "href"))
    assert "confusion" in d.page_source.lower(), d.page_source[:500]
    logs = [l for l in d.get_log("browser") if l["level"] == "SEVERE"]
    assert not logs, logs
    print("lab_browser: all checks passed;", summary)
finally:
    d.quit()
