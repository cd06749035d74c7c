"""The Todo app in a real browser (headless Chromium), against a real server on 127.0.0.1.

Uses Debian's ``chromium`` and ``chromium-driver`` only: nothing is ever
downloaded (``SE_OFFLINE=true``, explicit binary and driver paths).  Without
them the tests skip, except under ``CI=true``, where that is a failure.
SQLite only: the web side's database behaviour is covered by test_web.py.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from example_app import create_app
from example_app.commands import seed_data
from example_app.models import Role, User, db
from tests.conftest import IN_CI, issue_token

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TRINITY = "trinity@gridco.example"
SOMNUS = "somnus@gridco.example"
TIMEOUT = 10


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true requires the browser test to run: {reason}")
    pytest.skip(reason)


try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - depends on the environment
    webdriver = None


class Live:
    """The app served over HTTP, plus what the tests need to reach it."""

    def __init__(self, app: Any, base: str) -> None:
        self.app = app
        self.base = base

    def user_id(self, user_name: str) -> int:
        with self.app.app_context():
            return db.session.scalar(db.select(User.id).filter_by(user_name=user_name))


@pytest.fixture
def live(tmp_path: Any) -> Iterator[Live]:
    """The Todo app on a free port, seeded, with Somnus made a Manager."""
    app = create_app({"TESTING": True, "SECRET_KEY": "browser-test",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'browser.sqlite3'}"})
    with app.app_context():
        db.create_all()
        seed_data()
        somnus = db.session.scalar(db.select(User).filter_by(user_name=SOMNUS))
        somnus.roles = [db.session.scalar(db.select(Role).filter_by(code="manager"))]
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Live(app, f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(TIMEOUT)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def browser(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if webdriver is None:
        unavailable("selenium is not installed (pip install -e '.[test]')")
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        unavailable(f"missing {', '.join(missing)} (apt-get install chromium chromium-driver)")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-proxy-server", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: Any) -> Any:
    return WebDriverWait(driver, TIMEOUT)


def submit(driver: Any, button: Any) -> None:
    """Click a form button and wait until the page it leads to has loaded.

    The old page is marked with a window variable that the new page does not have; while the
    navigation is under way, chromedriver may answer with transient errors, which are retried.
    """
    driver.execute_script("window.oldPage = true")
    button.click()
    WebDriverWait(driver, TIMEOUT, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !window.oldPage && document.readyState === 'complete'"))


def sign_in(driver: Any, live: Live, email: str) -> None:
    driver.get(live.base + "/login")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys("password")
    submit(driver, driver.find_element(By.ID, "sign-in"))
    assert driver.current_url == live.base + "/todos"


def row(driver: Any, title: str) -> Any:
    return driver.find_element(By.XPATH, f'//tr[td[normalize-space()="{title}"]]')


def test_todoer_creates_and_completes_a_todo(browser: Any, live: Live) -> None:
    sign_in(browser, live, TRINITY)
    browser.find_element(By.ID, "new-todo").send_keys("Water the plants")
    submit(browser, browser.find_element(By.ID, "add-todo"))
    assert not browser.find_elements(By.CSS_SELECTOR, "button.delete")
    submit(browser, row(browser, "Water the plants").find_element(By.CSS_SELECTOR, "button.complete"))
    done = row(browser, "Water the plants")
    assert "done" in done.find_element(By.TAG_NAME, "td").get_attribute("class")
    assert not done.find_elements(By.CSS_SELECTOR, "button.complete")


def test_manager_deletes_a_todo_and_sees_the_admin_page(browser: Any, live: Live) -> None:
    sign_in(browser, live, SOMNUS)
    submit(browser, row(browser, "Trinity's first todo").find_element(By.CSS_SELECTOR, "button.delete"))
    assert "Trinity's first todo" not in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.LINK_TEXT, "Admin").click()
    wait(browser).until(ec.url_to_be(live.base + "/admin"))
    users = browser.find_element(By.ID, "users").text
    assert TRINITY in users and "Todo-er" in users and "Manager" in users
    assert "Recent SCIM activity" in browser.find_element(By.TAG_NAME, "main").text


def test_user_deactivated_over_scim_lands_on_sign_in_at_next_page_load(browser: Any, live: Live) -> None:
    sign_in(browser, live, TRINITY)
    token = issue_token(live.app, "gridco.example")
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}]}
    request = urllib.request.Request(
        f"{live.base}/scim/v2/Users/{live.user_id(TRINITY)}", data=json.dumps(body).encode(), method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open(request, timeout=TIMEOUT) as response:
        assert response.status == 200
        assert json.load(response)["active"] is False
    browser.refresh()
    wait(browser).until(ec.url_to_be(live.base + "/login"))
    assert "deactivated" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
