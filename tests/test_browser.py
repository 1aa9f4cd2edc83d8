"""The course in a real browser: JupyterLab in headless Chromium, driven through its menus as a
student drives it. Notebooks 00, 01 and 03 are restarted and run top to bottom (quick mode);
every code cell must run without an error, the progress bar and the figures must render, and
notebook 03's threshold slider must redraw its figure when it moves. Then the web edition
(tools/build_site.py) is built and a notebook's page must show every one of its figures.

Skips, saying why, where Chromium, chromedriver or selenium is missing (CI installs them: see
.ci/run). Its own port, token, settings and temporary folders, so it runs beside another pytest
worker. Screenshots go to $PSEUDO_OUTPUT_DIR/browser/ when that is set, else to pytest's tmp dir.
"""
from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 1200  # seconds for a notebook to run top to bottom on a slow, shared CPU (01 trains)
UI_TIMEOUT = 60     # seconds for JupyterLab to start, open a notebook, show a menu or a redraw
STALL_SECONDS = 90  # an idle kernel silent this long has finished: a page still waiting missed the end
START_TIMEOUT = 120  # seconds for the first cell to start after Restart Kernel and Run All Cells
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
ERROR_TEXT = "Traceback (most recent call last)"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[browser]')")
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


# ------------------------------------------------------------------ the server
def _lab_command(settings: Path, workspaces: Path, token: str) -> list[str]:
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port=0", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={ROOT}", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={workspaces}",
               f"--FileCheckpoints.root_dir={workspaces.parent / 'checkpoints'}"]  # not .ipynb_checkpoints/ in the repo
    return command + (["--allow-root"] if os.geteuid() == 0 else [])


SETTINGS = {  # JupyterLab's user settings for the test, in an empty settings folder
    "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},  # no request outside
    "docmanager-extension/plugin": {"autosave": False},  # never write the quick-mode run over a stored notebook
}


def _write_settings(settings: Path) -> None:
    for name, values in SETTINGS.items():
        target = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))


def _server_url(runtime: Path, server: subprocess.Popen, log: Path) -> str:
    """The URL JupyterLab writes in its runtime folder once it listens (it picked a free port)."""
    deadline = time.monotonic() + UI_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"jupyter lab exited with code {server.returncode}:\n{log.read_text()[-3000:]}")
        for info in runtime.glob("jpserver-*.json"):
            url = json.loads(info.read_text())["url"]
            try:
                urllib.request.urlopen(f"{url}api", timeout=5)
                return url
            except OSError:
                pass
        time.sleep(0.5)
    pytest.fail(f"jupyter lab did not start in {UI_TIMEOUT} s:\n{log.read_text()[-3000:]}")


def _children(pid: int) -> list[int]:
    """Every process below ``pid`` (kernels run in sessions of their own), read from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        below = [child for child, parent in parents.items() if parent in frontier]
        found, frontier = found + below, below
    return found


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM the server's process group (it shuts its kernels down), then SIGKILL what is left."""
    family = _children(server.pid)
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def chromium():
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("Chromium or chromedriver not found on PATH "
                    "(Debian/Ubuntu: apt-get install chromium chromium-driver)")
    return browser, driver


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory):
    """A JupyterLab server on 127.0.0.1, a free port, a random token and empty settings; stopped at the end."""
    home = tmp_path_factory.mktemp("jupyterlab")
    runtime, settings, workspaces = home / "runtime", home / "settings", home / "workspaces"
    _write_settings(settings)
    token = secrets.token_hex(24)
    env = {**os.environ, "PSEUDO_QUICK": "1", "OMP_NUM_THREADS": "1", "JUPYTER_RUNTIME_DIR": str(runtime),
           "JUPYTER_CONFIG_DIR": str(home / "config"), "IPYTHONDIR": str(home / "ipython")}
    log = home / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(_lab_command(settings, workspaces, token), cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield {"url": _server_url(runtime, server, log), "token": token}
    finally:
        _stop(server)


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    """Headless Chromium through chromedriver (Selenium Manager downloads nothing: both are given)."""
    from selenium.webdriver.chrome.service import Service
    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless=new", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
    options.unhandled_prompt_behavior = "accept"  # leave a notebook with unsaved outputs without saving
    service = Service(executable_path=driver_path, log_output=str(profile / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            service.stop()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = (Path(os.environ["PSEUDO_OUTPUT_DIR"]) / "browser" if os.environ.get("PSEUDO_OUTPUT_DIR")
              else tmp_path_factory.mktemp("browser"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ------------------------------------------------------------------ what a student does
def _wait(driver, condition, timeout: float = UI_TIMEOUT, what: str = ""):
    return WebDriverWait(driver, timeout, poll_frequency=0.25,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition, what)


def _visible(driver, css: str, timeout: float = UI_TIMEOUT):
    def shown(d):
        found = [e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        return found[0] if found else False
    return _wait(driver, shown, timeout, f"nothing visible matches {css}")


def _menu(driver, top: str, item: str) -> None:
    """Click a menu of the menu bar, then one of its items, by the labels a student reads."""
    _wait(driver, lambda d: d.find_element(
        By.XPATH, f"//div[contains(@class,'lm-MenuBar-itemLabel') and normalize-space()='{top}']"),
        what=f"no menu {top}").click()
    entry = f"//li[contains(@class,'lm-Menu-item')][.//div[contains(@class,'lm-Menu-itemLabel') and " \
            f"starts-with(normalize-space(), '{item}')]]"
    _wait(driver, lambda d: [e for e in d.find_elements(By.XPATH, entry) if e.is_displayed()] or False,
          what=f"no item {item!r} in the {top} menu")[0].click()


# What the open notebook shows, read in one round trip; textContent, so that cells scrolled out of
# view (JupyterLab skips rendering them) count as well.
STATE_JS = """
const panel = document.querySelector(arguments[0]);
if (!panel) { return null; }
const all = (css) => [...panel.querySelectorAll(css)];
const outputs = all('.jp-OutputArea-output').map((o) => o.textContent);
return {
  prompts: all('.jp-CodeCell .jp-InputPrompt').map((p) => p.textContent.trim()),
  idle: panel.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']") !== null,
  errors: outputs.filter((text) => text.includes(arguments[1])).map((text) => text.slice(-1500)),
  bars: all('.jp-OutputArea-output .widget-hprogress').length,
  bar_labels: all('.jp-OutputArea-output .widget-html-content').map((e) => e.textContent).join(' '),
  figures: all('.jp-OutputArea-output img').length,
  quick: outputs.some((text) => /quick mode:? True/.test(text)),
};
"""


# Scroll an element to the middle of the window; true once it is there (cells above it may grow
# as they render, so the caller repeats until it stays).
SCROLL_TO_JS = """
const element = document.querySelector(arguments[0]);
if (!element) { return false; }
element.scrollIntoView({block: 'center'});
const box = element.getBoundingClientRect();
return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
"""


# What a failed search for the progress bar saw: each bar's box against the window, and the
# text of the outputs (a widget that failed to render shows its plain-text fallback or an error).
BARS_JS = """
const panel = document.querySelector(arguments[0]);
if (!panel) { return 'no open notebook'; }
const bars = [...panel.querySelectorAll('.widget-hprogress')].map((b) => {
  const box = b.getBoundingClientRect();
  return {top: Math.round(box.top), bottom: Math.round(box.bottom), window: window.innerHeight};
});
const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')].map((o) => o.textContent.trim().slice(0, 120));
return {bars: bars, outputs: outputs.slice(0, 8)};
"""


def _state(driver) -> dict:
    return driver.execute_script(STATE_JS, PANEL, ERROR_TEXT) or {"prompts": [], "idle": False, "errors": []}


def _until(driver, ready, timeout: float = UI_TIMEOUT, what: str = "") -> dict:
    """Wait until ``ready(state)`` holds; return that state."""
    return _wait(driver, lambda d: state if ready(state := _state(d)) else False, timeout, what)


def _all_ran(state: dict) -> bool:
    return bool(state["prompts"]) and all(re.fullmatch(r"\[\d+\]:", p) for p in state["prompts"])


def _api(lab, method: str, path: str):
    """One call to the Jupyter server's REST API, as the test's JupyterLab user."""
    request = urllib.request.Request(f"{lab['url']}{path}", method=method,
                                     headers={"Authorization": f"token {lab['token']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _shut_down_kernels(lab) -> None:
    """End the sessions of the notebooks opened before (their kernels hold the data in memory)."""
    for session in _api(lab, "GET", "api/sessions"):
        _api(lab, "DELETE", f"api/sessions/{session['id']}")


def _kernels_quiet(lab, seconds: float) -> bool:
    """Every kernel idle, and none has sent or received a message for ``seconds``: a run is over.
    A server that cannot answer just now (it answered 500 once, mid-restart) says nothing: False."""
    try:
        kernels = _api(lab, "GET", "api/kernels")
        now = datetime.datetime.now(datetime.timezone.utc)
        return bool(kernels) and all(
            k["execution_state"] == "idle"
            and (now - datetime.datetime.fromisoformat(k["last_activity"])).total_seconds() > seconds
            for k in kernels)
    except (OSError, ValueError, KeyError, TypeError):  # urllib's HTTPError and URLError are OSErrors
        return False


def _run_all_through_the_menus(driver, lab, notebook: str, attempts: int = 2) -> None:
    """Open the notebook, clear its stored outputs, then Run -> Restart Kernel and Run All Cells.

    If the stored outputs are not cleared, or no cell starts at all, the page is opened again
    once. JupyterLab's kernel connection can break right after the restart (seen once here:
    jupyter_server failed to decode a websocket message, and the kernel never received a cell),
    and once the "Clear Outputs of All Cells" click left the stored counts in place (notebook 00,
    the suite's first browser test, beside the other worker). So is a page that, once the run is
    over, shows the file's stored outputs (a full-mode run: "quick mode False") instead of this
    server's quick-mode run: seen several times on notebook 00 beside the other worker, where
    it used to surface later as a missing progress bar. What must hold of the run is unchanged."""
    for attempt in range(1, attempts + 1):
        _shut_down_kernels(lab)
        driver.get(f"{lab['url']}lab/tree/notebooks/{notebook}?reset&token={lab['token']}")
        _visible(driver, f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']")
        try:
            _menu(driver, "Edit", "Clear Outputs of All Cells")
            _until(driver, lambda s: s["prompts"] and not any(re.search(r"\d", p) for p in s["prompts"]),
                   what=f"{notebook}: the stored execution counts were not cleared")
            _menu(driver, "Run", "Restart Kernel and Run All Cells")
            _visible(driver, ".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
            _until(driver, lambda s: any("*" in p or re.search(r"\d", p) for p in s["prompts"]), START_TIMEOUT,
                   f"{notebook}: no cell started within {START_TIMEOUT} s of the restart")
        except TimeoutException as failure:
            if attempt == attempts:
                raise
            warnings.warn(f"{failure.msg}; opening it again")
            continue
        # Cleared prompts read "[ ]:", so all numbered means every cell ran after the restart. A page
        # still not done when the kernel has been idle and silent for a minute missed the end of
        # the run (seen once on notebook 01, beside the other worker: 20 minutes of an idle kernel).
        asked = [time.monotonic()]  # when the server was last asked: every 5 s is enough

        def done_or_stalled(d):
            state = _state(d)
            if state["errors"] or (state["idle"] and _all_ran(state)):
                return state
            if time.monotonic() - asked[0] < 5:
                return False
            asked[0] = time.monotonic()
            return {**state, "stalled": True} if _kernels_quiet(lab, STALL_SECONDS) else False
        state = _wait(driver, done_or_stalled, RUN_TIMEOUT, f"{notebook} did not finish within {RUN_TIMEOUT} s")
        if state.get("stalled"):
            if attempt == attempts:
                pytest.fail(f"{notebook}: the kernel is idle but the page shows an unfinished run: {state['prompts']}",
                            pytrace=False)
            warnings.warn(f"{notebook}: the kernel went quiet before the page showed the run finished; opening it again")
            continue
        if state["quick"] or state["errors"] or attempt == attempts:
            break
        warnings.warn(f"{notebook}: the page shows the file's stored outputs, not this quick-mode run; opening it again")
    assert not state["errors"], f"{notebook} stopped on an error:\n" + "\n".join(state["errors"])
    assert state["quick"], f"{notebook}: the page does not show this server's quick-mode run (\"quick mode True\")"


def _assert_ran_cleanly_with_a_bar_and_figures(driver, notebook: str) -> None:
    state = _state(driver)
    assert _all_ran(state) and not state["errors"], f"{notebook}: a cell did not run: {state['prompts']}"
    assert state["bars"] >= 1, f"{notebook}: no progress bar widget rendered"
    assert "100%" in state["bar_labels"], f"{notebook}: no finished progress bar ({state['bar_labels']!r})"
    assert state["figures"] >= 1, f"{notebook}: no figure rendered"


# ------------------------------------------------------------------ the tests
@pytest.mark.parametrize("notebook", ["00_setup_and_data.ipynb", "01_supervised_baseline.ipynb"])
def test_a_notebook_runs_in_jupyterlab_through_the_menus(browser, lab, screenshots, notebook):
    for attempt in (1, 2):
        _run_all_through_the_menus(browser, lab, notebook)
        try:  # the bar on screen, for the screenshot
            _wait(browser, lambda d: d.execute_script(SCROLL_TO_JS, f"{PANEL} .jp-OutputArea-output .widget-hprogress"))
            break
        except TimeoutException:
            # Seen three times (notebook 00, the suite's first browser test, beside the other worker),
            # never alone or under a synthetic load. The page showed the text bar and "quick mode: False"
            # though the server runs with PSEUDO_QUICK=1: those are the outputs stored in the file (a
            # full-mode run, whose widget state is not saved), so the page most likely went back to the
            # file's contents after the clear and the run. Keep what the page showed, say so, run it again.
            seen = f"{notebook}: no progress bar could be scrolled into view; the page showed " \
                   f"{browser.execute_script(BARS_JS, PANEL)}"
            browser.save_screenshot(str(screenshots / notebook.replace(".ipynb", f"_no_bar_{attempt}.png")))
            if attempt == 2:
                pytest.fail(seen, pytrace=False)
            warnings.warn(seen + "; running it again")
    browser.save_screenshot(str(screenshots / notebook.replace(".ipynb", ".png")))
    _assert_ran_cleanly_with_a_bar_and_figures(browser, notebook)


def test_the_threshold_slider_of_notebook_03_redraws_its_figure(browser, lab, screenshots):
    _run_all_through_the_menus(browser, lab, "03_confidence_threshold.ipynb")
    image = _visible(browser, f"{PANEL} img.widget-image")
    readout = _visible(browser, f"{PANEL} .widget-slider .widget-readout")
    before = image.get_attribute("src")
    assert readout.text.strip() == "0.90"
    handle = _visible(browser, f"{PANEL} .widget-slider .noUi-handle")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle)
    handle.send_keys(Keys.HOME)  # the slider's lowest stop, 0.50
    _wait(browser, lambda d: image.get_attribute("src") != before and readout.text.strip() == "0.50",
          what="the figure was not redrawn after the slider moved")
    browser.save_screenshot(str(screenshots / "03_slider_at_0.50.png"))
    state = _until(browser, lambda s: s["idle"], what="the kernel stayed busy")
    assert not state["errors"], "\n".join(state["errors"])


# ------------------------------------------------------------------ the web edition in the browser
FIGURES_JS = """
const images = [...document.querySelectorAll('main img')].filter(i => !i.src.includes('colab-badge'));
return {complete: images.every(i => i.complete), loaded: images.filter(i => i.naturalWidth > 0).length,
        total: images.length};
"""


def test_the_web_edition_shows_a_notebooks_figures(browser, tmp_path):
    if importlib.util.find_spec("jupyter_book") is None:
        pytest.skip("the web edition's extra is not installed (pip install -c constraints.txt -e '.[site]')")
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    build_site = importlib.util.module_from_spec(spec)
    sys.modules["build_site"] = build_site  # dataclasses look their module up while the file runs
    spec.loader.exec_module(build_site)
    build_site.build(tmp_path / "site")
    page = build_site.page_path("notebooks/01_supervised_baseline.ipynb", tmp_path / "site")
    browser.get(page.as_uri())
    _wait(browser, lambda d: d.execute_script(FIGURES_JS)["complete"], what="the page's images did not load")
    figures = browser.execute_script(FIGURES_JS)
    browser.save_screenshot(str(tmp_path / "site_01.png"))
    assert figures["total"] >= 3 and figures["loaded"] == figures["total"], figures  # every figure drawn
