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
NOBODY = "nobody@gridco.example"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
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

    def role_id(self, code: str) -> int:
        with self.app.app_context():
            return db.session.scalar(db.select(Role.id).filter_by(code=code))

    def scim(self, method: str, path: str, body: Any = None) -> Any:
        """A SCIM request over HTTP, as Okta sends it; returns the JSON answer (None for 204)."""
        if not hasattr(self, "token"):
            self.token = issue_token(self.app, "gridco.example")
        request = urllib.request.Request(
            f"{self.base}/scim/v2{path}", data=None if body is None else json.dumps(body).encode(), method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"})
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with no_proxy.open(request, timeout=TIMEOUT) as response:
            assert response.status in (200, 201, 204)
            raw = response.read()
            return json.loads(raw) if raw else None


@pytest.fixture
def live(tmp_path: Any) -> Iterator[Live]:
    """The Todo app on a free port, seeded (Somnus is a Manager), plus Nobody, who has no role."""
    app = create_app({"TESTING": True, "SECRET_KEY": "browser-test",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'browser.sqlite3'}"})
    with app.app_context():
        db.create_all()
        seed_data()
        nobody = User(org_id=db.session.scalar(db.select(User.org_id).filter_by(user_name=SOMNUS)),
                      user_name=NOBODY, first_name="No", last_name="Body", active=True)
        nobody.set_password("password")
        db.session.add(nobody)
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


def sign_out(driver: Any) -> None:
    submit(driver, driver.find_element(By.ID, "sign-out"))


def main_text(driver: Any) -> str:
    return driver.find_element(By.TAG_NAME, "main").text


def until_shown(driver: Any, url: str, wanted: str) -> str:
    """Load ``url`` until ``wanted`` shows (the activity log is written just after the SCIM response)."""

    def shown(d: Any) -> bool:
        d.get(url)
        return wanted in main_text(d)

    WebDriverWait(driver, TIMEOUT, poll_frequency=0.2).until(shown)
    return main_text(driver)


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
    assert "Recent changes" in main_text(browser)


def test_user_deactivated_over_scim_lands_on_sign_in_at_next_page_load(browser: Any, live: Live) -> None:
    sign_in(browser, live, TRINITY)
    answer = live.scim("PATCH", f"/Users/{live.user_id(TRINITY)}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"active": False}}]})
    assert answer["active"] is False
    browser.refresh()
    wait(browser).until(ec.url_to_be(live.base + "/login"))
    assert "deactivated" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text


def test_admin_maps_a_group_to_a_role_and_a_group_push_grants_then_removes_it(browser: Any, live: Live) -> None:
    writers = live.scim("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                            "displayName": "Writers", "members": []})
    sign_in(browser, live, SOMNUS)
    browser.get(live.base + "/admin")
    mapping = browser.find_element(By.CSS_SELECTOR, '#group-mapping tr[data-group="Writers"]')
    mapping.find_element(By.XPATH, './/label[normalize-space()="Todo-er"]/input').click()
    submit(browser, mapping.find_element(By.CSS_SELECTOR, "button.save-mapping"))
    assert "Members of Writers now hold: Todo-er." in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    saved = browser.find_element(By.CSS_SELECTOR, '#group-mapping tr[data-group="Writers"]')
    assert saved.find_element(By.XPATH, './/label[normalize-space()="Todo-er"]/input').is_selected()
    sign_out(browser)

    sign_in(browser, live, NOBODY)
    assert "No access yet" in main_text(browser) and not browser.find_elements(By.ID, "new-todo")
    live.scim("PATCH", f"/Groups/{writers['id']}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": str(live.user_id(NOBODY))}]}]})
    browser.refresh()
    browser.find_element(By.ID, "new-todo").send_keys("Written thanks to Writers")
    submit(browser, browser.find_element(By.ID, "add-todo"))
    assert "Written thanks to Writers" in main_text(browser)
    browser.get(live.base + "/me")
    assert "Todo-er: member of group Writers" in main_text(browser)

    live.scim("PATCH", f"/Groups/{writers['id']}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": f'members[value eq "{live.user_id(NOBODY)}"]'}]})
    browser.get(live.base + "/todos")
    assert "No access yet" in main_text(browser) and not browser.find_elements(By.ID, "new-todo")


def test_the_activity_log_shows_a_role_granted_over_scim(browser: Any, live: Live) -> None:
    live.scim("PATCH", f"/Users/{live.user_id(TRINITY)}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "roles", "value": [{"value": str(live.role_id("auditor"))}]}]})
    sign_in(browser, live, SOMNUS)
    page = until_shown(browser, live.base + "/admin/activity", "granted roles: Todo Auditor")
    assert f"User {TRINITY} updated" in page
    browser.get(live.base + "/admin")
    assert "granted roles: Todo Auditor" in browser.find_element(By.ID, "recent-events").text
