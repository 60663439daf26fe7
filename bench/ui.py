"""The web UI's dataset page in headless Chromium: milliseconds from
navigation until the statistics, the distinct estimates, the first page of
rows and every facet are on screen. Usage: ui.py BASE TOKEN DATASET RUNS;
prints one line of JSON: {"runs": [ms, ...], "facets": [...]}."""

import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

base, token, dataset, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--window-size=1280,900"]:
    options.add_argument(arg)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
DONE = """
const facets = document.querySelector('#facets[data-state="done"]');
const stats = [...document.querySelectorAll('#columns tbody tr td:nth-child(3)')];
const rows = document.querySelectorAll('#rows-table tbody tr').length;
return facets && rows > 0 && stats.length > 0 && stats.every(td => td.textContent !== '')
  ? performance.now() : null;
"""
try:
    if token:
        d.get(base + "/")
        d.find_element(By.ID, "token").send_keys(token + Keys.ENTER)
        time.sleep(0.5)
    times = []
    for _ in range(runs):
        d.get("about:blank")
        d.get(base + "/#/d/" + dataset)
        deadline = time.time() + 60
        while time.time() < deadline:
            done = d.execute_script(DONE)
            if done:
                times.append(round(done))
                break
            time.sleep(0.01)
        else:
            raise SystemExit("the page never finished: " + d.find_element(By.TAG_NAME, "body").text[:2000])
    facets = [f.get_attribute("data-column") for f in d.find_elements(By.CSS_SELECTOR, ".facet")]
    print(json.dumps({"runs": times, "facets": facets}))
finally:
    d.quit()
