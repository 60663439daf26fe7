"""lake's web UI in a real browser: Debian's headless Chromium driven by
Selenium. Reads {"base", "token", "shots", "downloads", "upload", "conflict",
"dropped"} as JSON on standard input, does what a person would, asserts what
the page shows, and prints what it saw (rows, facets, the CSV it downloaded)
as JSON for the Rust test to hold against `lake sql`."""

import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

request = json.load(sys.stdin)
base = request["base"]
shots = request["shots"]
os.makedirs(shots, exist_ok=True)
os.makedirs(request["downloads"], exist_ok=True)
seen = {}
drivers = []


def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--window-size={width},{height}",
    ]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {
        "download.default_directory": request["downloads"],
        "download.prompt_for_download": False,
    })
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    drivers.append(driver)
    return driver


def wait(what, check, timeout=30):
    """Polls `check` until it returns something true; fails naming `what`."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # the page is still changing
            last = e
        time.sleep(0.05)
    for driver in drivers:  # what the page showed instead, for a person
        driver.save_screenshot(os.path.join(shots, "failed-" + what.replace(" ", "-") + ".png"))
        sys.stderr.write(driver.find_element(By.TAG_NAME, "body").text[:3000] + "\n")
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


def shot(driver, name):
    driver.save_screenshot(os.path.join(shots, name + ".png"))


def texts(driver, css):
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def table(driver, css):
    rows = driver.find_elements(By.CSS_SELECTOR, css + " tbody tr")
    return [[td.text for td in r.find_elements(By.TAG_NAME, "td")] for r in rows]


def hash_of(driver):
    return driver.execute_script("return window.location.hash")


def refused(url):
    """The status of a request without token or session."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


d = browser(1280, 900)
try:
    # --- a wrong token is refused, the right one signs in
    seen["api_without_token"] = refused(base + "/v1/catalog/list")
    d.get(base + "/")
    token_box = wait("the login form", lambda: d.find_element(By.ID, "token"))
    token_box.send_keys("not-the-token" + Keys.ENTER)
    wait("the refusal", lambda: "not this server's" in d.find_element(By.CSS_SELECTOR, ".error").text)
    assert d.find_elements(By.ID, "token"), "the form is shown again"
    shot(d, "01-login-refused")
    d.find_element(By.ID, "token").send_keys(request["token"] + Keys.ENTER)

    # --- datasets: listed, searchable
    wait("the datasets", lambda: len(table(d, "#datasets")) >= 2)
    names = [r[0] for r in table(d, "#datasets")]
    assert "sales" in names and "people" in names, names
    cookie = d.get_cookie("lake_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    assert request["token"] not in cookie["value"]
    d.find_element(By.ID, "search").send_keys("sal")
    wait("the search", lambda: [r[0] for r in table(d, "#datasets")] == ["sales"])
    seen["datasets_row"] = table(d, "#datasets")[0]
    shot(d, "02-datasets")

    # --- keyboard: Tab reaches the dataset's link, Enter opens it
    d.find_element(By.ID, "search").clear()
    d.find_element(By.ID, "search").send_keys("sales")
    wait("one row", lambda: len(table(d, "#datasets")) == 1)
    body = d.switch_to.active_element
    for _ in range(30):
        body.send_keys(Keys.TAB)
        body = d.switch_to.active_element
        if body.tag_name == "a" and body.text == "sales":
            break
    assert body.text == "sales", f"Tab never reached the dataset link ({body.text!r})"
    body.send_keys(Keys.ENTER)
    wait("the dataset page", lambda: hash_of(d) == "#/d/sales")

    # --- the dataset: statistics, facets over every row, rows
    wait("the facets", lambda: d.find_elements(By.CSS_SELECTOR, "#facets[data-state='done']"))
    wait("the distinct estimates", lambda: all(r[5] for r in table(d, "#columns")))
    seen["columns"] = table(d, "#columns")
    seen["facets"] = {
        f.get_attribute("data-column"): [
            [li.find_element(By.CSS_SELECTOR, ".value").text, li.find_element(By.CSS_SELECTOR, ".count").text]
            for li in f.find_elements(By.CSS_SELECTOR, ".facet-values li a")
        ]
        for f in d.find_elements(By.CSS_SELECTOR, ".facet")
    }
    wait("the rows", lambda: len(table(d, "#rows-table")) == 50)
    seen["first_page"] = table(d, "#rows-table")[:2]
    shot(d, "03-dataset")

    # sort by a header, twice for descending; then the next page
    d.find_element(By.CSS_SELECTOR, "#rows-table th a[title='Sort by amount']").click()
    wait("ascending", lambda: "ascending" in (d.find_element(By.CSS_SELECTOR, "th[aria-sort]").get_attribute("aria-sort") or "") and len(table(d, "#rows-table")) == 50)
    seen["sorted_ascending"] = table(d, "#rows-table")[0]
    d.find_element(By.CSS_SELECTOR, "#rows-table th a[title='Sort by amount']").click()
    wait("descending", lambda: d.find_elements(By.CSS_SELECTOR, "th[aria-sort='descending']") and len(table(d, "#rows-table")) == 50)
    seen["sorted_descending"] = table(d, "#rows-table")[0]
    d.find_element(By.LINK_TEXT, "Next →").click()
    wait("page two", lambda: "rows 51–100" in d.find_element(By.CSS_SELECTOR, ".pager").text)
    seen["page_two"] = d.find_element(By.CSS_SELECTOR, ".pager").text

    # a facet value filters the rows, and the facets with them
    facet = d.find_element(By.CSS_SELECTOR, ".facet[data-column='region'] .facet-values a")
    value = facet.find_element(By.CSS_SELECTOR, ".value").text
    facet.click()
    wait("the filter", lambda: d.find_elements(By.CSS_SELECTOR, ".chip") and "matching rows" in d.find_element(By.CSS_SELECTOR, ".filters").text)
    seen["filter"] = [value, d.find_element(By.CSS_SELECTOR, ".filters").text]
    shot(d, "04-dataset-filtered")

    # --- SQL: Ctrl+Enter runs; the URL holds the query; errors inline; cancel
    d.find_element(By.LINK_TEXT, "SQL").click()
    editor = wait("the editor", lambda: d.find_element(By.ID, "sql"))
    query = request["query"]
    editor.send_keys(query)
    editor.send_keys(Keys.CONTROL, Keys.ENTER)
    wait("the answer", lambda: " rows in " in d.find_element(By.ID, "status").text)
    seen["sql_status"] = d.find_element(By.ID, "status").text
    seen["sql_header"] = texts(d, "#result th")
    seen["sql_rows"] = table(d, "#result")
    seen["sql_hash"] = hash_of(d)
    # the chart: a line of the second column against the first
    Select(d.find_element(By.ID, "chart-kind")).select_by_value("line")
    wait("a line", lambda: d.find_element(By.CSS_SELECTOR, "#chart svg polyline"))
    Select(d.find_element(By.ID, "chart-kind")).select_by_value("bar")
    seen["bars"] = wait("bars", lambda: len(d.find_elements(By.CSS_SELECTOR, "#chart svg rect")))
    shot(d, "05-sql-and-chart")

    # download as CSV: the browser saves what the server sent
    target = os.path.join(request["downloads"], "query.csv")
    d.find_element(By.CSS_SELECTOR, "button[data-format='csv']").click()
    wait("the download", lambda: os.path.exists(target) and os.path.getsize(target) > 0)
    time.sleep(0.3)
    with open(target, encoding="utf-8") as f:
        seen["csv"] = f.read()

    target = os.path.join(request["downloads"], "query.parquet")
    d.find_element(By.CSS_SELECTOR, "button[data-format='parquet']").click()
    wait("the Parquet download", lambda: os.path.exists(target) and os.path.getsize(target) > 8)
    time.sleep(0.3)
    with open(target, "rb") as f:
        data = f.read()
    seen["parquet_magic"] = (data[:4] + data[-4:]).decode("ascii", "replace")
    seen["parquet_path"] = target

    # the shared URL runs the query again in a fresh page
    d.get(base + "/" + seen["sql_hash"])
    wait("the shared query", lambda: table(d, "#result") == seen["sql_rows"])

    # an error is shown where the answer would be
    editor = d.find_element(By.ID, "sql")
    editor.clear()
    editor.send_keys("SELECT * FROM no_such_dataset")
    editor.send_keys(Keys.CONTROL, Keys.ENTER)
    seen["sql_error"] = wait("the error", lambda: d.find_element(By.CSS_SELECTOR, "#results .error").text)
    shot(d, "06-sql-error")

    # a long query is cancelled
    editor.clear()
    editor.send_keys("SELECT count(*) FROM range(100000000000) a")
    editor.send_keys(Keys.CONTROL, Keys.ENTER)
    wait("running", lambda: d.find_element(By.ID, "cancel").is_enabled())
    time.sleep(0.3)
    d.find_element(By.ID, "cancel").click()
    seen["cancelled"] = wait("cancelled", lambda: d.find_element(By.ID, "status").text == "Cancelled." and "Cancelled.")

    # a facet still counting is cancelled by its button (the count is held
    # back in the page, so that it is still running when clicked)
    d.get(base + "/#/")
    d.execute_script("""
        const real = window.fetch;
        window.fetch = (url, options) => (options && String(options.body).includes('ORDER BY 2 DESC'))
          ? new Promise((_, reject) => options.signal.addEventListener('abort',
              () => reject(new DOMException('cancelled', 'AbortError'))))
          : real(url, options);
        window.location.hash = '#/d/people';
    """)
    wait("a facet counting", lambda: d.find_element(By.CSS_SELECTOR, ".facet button")).click()
    # What the facet says once it no longer counts (read at once, the text
    # could still be the counting one the click replaces).
    def facet_done():
        text = d.find_element(By.CSS_SELECTOR, ".facet p").text
        return not text.startswith("Counting") and text
    seen["facet_cancelled"] = wait("the facet cancelled", facet_done)
    d.refresh()

    # --- time travel: the history, one click to a page as of then, restore
    d.get(base + "/#/history")
    wait("the lake's history", lambda: table(d, "#history")[-1][3] == "created the lake")
    seen["lake_history"] = len(table(d, "#history"))
    d.get(base + "/#/history/sales")
    wait("the history", lambda: len(table(d, "#history")) >= 2)
    seen["history"] = table(d, "#history")
    shot(d, "07-history")
    first = request["first_snapshot"]
    d.find_element(By.CSS_SELECTOR, f"#history a[href='#/d/sales?at={first}']").click()
    wait("the banner", lambda: d.find_element(By.ID, "asof").is_displayed())
    wait("the old rows", lambda: "rows" in d.find_element(By.CSS_SELECTOR, ".meta").text and d.find_elements(By.CSS_SELECTOR, "#rows-table tbody tr"))
    seen["as_of_meta"] = d.find_element(By.CSS_SELECTOR, ".meta").text
    seen["as_of_banner"] = d.find_element(By.ID, "asof").text
    seen["as_of_pager"] = wait("the pager", lambda: d.find_element(By.CSS_SELECTOR, ".pager").text)
    shot(d, "08-dataset-as-of")
    d.get(base + "/#/history/sales")
    wait("the history", lambda: len(table(d, "#history")) >= 2)
    row = [r for r in d.find_elements(By.CSS_SELECTOR, "#history tbody tr") if r.find_element(By.TAG_NAME, "td").text == str(first)][0]
    row.find_element(By.XPATH, ".//button[text()='Restore…']").click()
    row.find_element(By.XPATH, f".//button[text()='Restore sales to snapshot {first}']").click()
    seen["restored"] = wait("the restore", lambda: d.find_element(By.CSS_SELECTOR, "p.ok").text)

    # --- ingest: the upload control, a conflict and --evolve, a drop
    d.get(base + "/#/ingest")
    wait("the form", lambda: d.find_element(By.ID, "file")).send_keys(request["upload"])
    wait("the name", lambda: d.find_element(By.ID, "name").get_attribute("value") == "uploaded_events")
    d.find_element(By.ID, "upload").click()
    seen["uploaded"] = wait("the report", lambda: d.find_element(By.CSS_SELECTOR, "#outcome .ok").text)
    shot(d, "09-ingest")
    name = d.find_element(By.ID, "name")
    name.clear()
    name.send_keys("sales")
    d.find_element(By.ID, "file").send_keys(request["conflict"])
    d.find_element(By.ID, "upload").click()
    seen["conflict"] = wait("the conflict", lambda: d.find_element(By.CSS_SELECTOR, "#outcome .error").text)
    Select(d.find_element(By.ID, "mode")).select_by_value("append")
    d.find_element(By.ID, "evolve").click()
    d.find_element(By.ID, "upload").click()
    seen["evolved"] = wait("the evolved report", lambda: d.find_element(By.CSS_SELECTOR, "#outcome .ok").text)
    d.get(base + "/#/")  # a fresh form: the same URL would keep this one
    d.get(base + "/#/ingest")
    wait("the drop zone", lambda: d.find_element(By.ID, "name").get_attribute("value") == "")
    d.execute_script("""
        const file = new File([arguments[0]], 'dropped.csv', {type: 'text/csv'});
        const data = new DataTransfer();
        data.items.add(file);
        document.getElementById('dropzone').dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true}));
    """, request["dropped"])
    wait("the dropped file", lambda: "dropped.csv" in d.find_element(By.ID, "chosen").text)
    d.find_element(By.ID, "upload").click()
    seen["dropped"] = wait("the dropped report", lambda: d.find_element(By.CSS_SELECTOR, "#outcome .ok").text)

    # --- nothing loaded from elsewhere, no script error
    d.get(base + "/#/d/sales")
    wait("the facets", lambda: d.find_elements(By.CSS_SELECTOR, "#facets[data-state='done'] .facet"))
    seen["requests"] = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name).concat([location.href])")
    logs = d.get_log("browser")
    # The refused login and the query that names no dataset fail on purpose:
    # the browser logs their status; nothing else may be logged as an error.
    seen["console_errors"] = [
        e for e in logs
        if e["level"] == "SEVERE"
        and not (e["source"] == "network" and ("/ui/login" in e["message"] or "/v1/sql" in e["message"] or "/v1/ingest" in e["message"]))
    ]
    seen["expected_failures"] = [e["message"] for e in logs if e["level"] == "SEVERE" and e["source"] == "network"]
finally:
    d.quit()

# --- a narrow window: nothing wider than the screen
n = browser(390, 844)
try:
    n.get(base + "/")
    n.find_element(By.ID, "token").send_keys(request["token"] + Keys.ENTER)
    wait("the datasets", lambda: len(table(n, "#datasets")) >= 2)
    for page, check in [("#/d/sales", "#facets[data-state='done'] .facet"), ("#/sql", "#sql"), ("#/ingest", "#dropzone")]:
        n.get(base + "/" + page)
        wait(page, lambda: n.find_elements(By.CSS_SELECTOR, check))
        overflow = n.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{page} is {overflow}px wider than a 390px window"
        shot(n, "10-narrow-" + page.strip("#/").replace("/", "-"))
    seen["narrow_errors"] = [e for e in n.get_log("browser") if e["level"] == "SEVERE"]
finally:
    n.quit()

print(json.dumps(seen))
