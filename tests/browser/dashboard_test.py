#!/usr/bin/env python3
"""jobctl web in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven by python3-selenium against a seeded database.

It loads every page and checks what it shows, retries a FAILED job from its
page and checks the database changed, checks that hostile metadata is shown
as text (no alert, no injected element), and that a form posted without its
CSRF token is refused and changes nothing.

Environment: JOBRUNNER_TEST_DSN (the server, as for the C++ tests: a
superuser conninfo without dbname) and JOBRUNNER_BIN_DIR (where jobctl is).
Exits 77 (ctest's SKIP_RETURN_CODE) when chromium or chromedriver is absent.
--screenshots DIR writes DIR/dashboard-overview.png and
DIR/dashboard-job.png (the README's pictures: scripts/screenshots.sh).

Everything it starts it stops: jobctl web, chromedriver and chromium (and
their throwaway profile), and its database.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'

try:
    import psycopg2
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:  # the packages are in scripts/install-deps.sh
    psycopg2 = None
    IMPORT_ERROR = str(e)

SCREENSHOTS = None


def conninfo(dbname):
    return os.environ["JOBRUNNER_TEST_DSN"] + " dbname=" + dbname


def seed(conn):
    """Jobs of every kind, throughput over the last hour, runners, reports."""
    with conn.cursor() as cur:
        cur.execute("INSERT INTO foo (name) SELECT 'foo ' || i FROM generate_series(1, 80) AS i")
        # Finished jobs over the last hour, for the chart and the paging.
        cur.execute("""
            INSERT INTO job (job_type, status, requester, attempt_count, max_retries,
                             date_created, date_started, date_finished, log)
            SELECT CASE WHEN i % 4 = 0 THEN 'noop' ELSE 'foo' END,
                   CASE WHEN i % 11 = 0 THEN 3 ELSE 2 END, 'alice', 1, 3,
                   now() - i * interval '40 seconds' - interval '3 seconds',
                   now() - i * interval '40 seconds' - interval '2 seconds',
                   now() - i * interval '40 seconds',
                   to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                     || ' attempt 1: completed'
            FROM generate_series(1, 85) AS i""")
        # FooJobs with their type rows, through the SQL enqueue function.
        def enqueue(foo, metadata, requester):
            cur.execute("SELECT jobrunner_enqueue('foo', %s, %s::jsonb, requester => %s)",
                        (foo, metadata, requester))
            return cur.fetchone()[0]
        import json
        hostile = enqueue(1, json.dumps({"note": SCRIPT, "attr": IMG}), IMG)
        failed = enqueue(2, json.dumps({"work_ms": 250, "customer": "acme", "retries": [1, 2]}),
                         "bob")
        refused = enqueue(3, json.dumps({"work_ms": 10}), "carol")
        for i in range(4, 8):
            enqueue(i, json.dumps({"work_ms": 100 * i}), "dave")
        cur.execute("""
            UPDATE job SET status = 3, attempt_count = 4, date_created = now() - interval '6 min',
                   date_started = now() - interval '70 s',
                   date_finished = now() - interval '1 minute',
                   log = concat_ws(E'\n',
                     to_char(now() AT TIME ZONE 'UTC' - interval '5 min', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' attempt 1: retry error: upstream 503',
                     to_char(now() AT TIME ZONE 'UTC' - interval '3 min', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' attempt 2: retry error: upstream 503',
                     to_char(now() AT TIME ZONE 'UTC' - interval '2 min', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' attempt 3: retry error: upstream 503',
                     to_char(now() AT TIME ZONE 'UTC' - interval '1 min', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' attempt 4: failed: retries spent (max_retries 3)')
            WHERE id IN (%s, %s, %s)""", (hostile, failed, refused))
        cur.execute("""INSERT INTO error_report (job, error_type, message, variables)
                       VALUES (%s, 'RetriesSpent', 'upstream answered 503 four times',
                               jsonb_build_object('job_id', %s, 'job_type', 'foo', 'foo', 2)),
                              (%s, %s, %s, '{}')""",
                    (failed, failed, hostile, IMG, SCRIPT))
        cur.execute("""INSERT INTO job_notification (job, recipient, subject, body)
                       VALUES (%s, 'bob', 'Your FooJob failed', 'upstream answered 503')""",
                    (failed,))
        cur.execute("""INSERT INTO runner_run (job_type, hostname, pid, date_started, last_seen)
                       VALUES ('foo', 'worker-1', 4242, now() - interval '3 hours', now()),
                              ('noop', 'worker-2', 5151, now() - interval '20 minutes', now())""")
        cur.execute("""INSERT INTO runner_run (job_type, hostname, pid, date_started, date_finished,
                                               jobs_run, jobs_not_completed, exit_code, last_seen)
                       VALUES ('foo', 'cron-host', 999, now() - interval '2 minutes',
                               now() - interval '1 minute', 12, 1, 0, now() - interval '1 minute')""")
    conn.commit()
    return {"hostile": hostile, "failed": failed, "refused": refused}


class Dashboard:
    """jobctl web on a free loopback port, its stderr collected."""

    def __init__(self, dsn, *options):
        jobctl = os.path.join(os.environ["JOBRUNNER_BIN_DIR"], "jobctl")
        self.proc = subprocess.Popen(
            [jobctl, "--db", dsn, "web", "--listen", "127.0.0.1:0", *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.port = None
        found = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line)
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
                if m:
                    self.port = int(m.group(1))
                    found.set()
            found.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        found.wait(60)
        if self.port is None:
            self.stop()
            raise RuntimeError("jobctl web did not say where it listens:\n" + "".join(self.lines))
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(10)
        return self.proc.returncode


class DashboardInABrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dbname = "jobrunner_browser_%d" % os.getpid()
        admin = psycopg2.connect(conninfo("postgres"))
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute('DROP DATABASE IF EXISTS "%s"' % cls.dbname)
            cur.execute('CREATE DATABASE "%s"' % cls.dbname)
        admin.close()
        cls.dsn = conninfo(cls.dbname)
        jobctl = os.path.join(os.environ["JOBRUNNER_BIN_DIR"], "jobctl")
        subprocess.run([jobctl, "--db", cls.dsn, "db", "upgrade"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cls.conn = psycopg2.connect(cls.dsn)
        cls.jobs = seed(cls.conn)
        cls.web = Dashboard(cls.dsn, "--allow-actions")
        cls.profile = tempfile.mkdtemp(prefix="jobrunner-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", "--user-data-dir=" + cls.profile,
                    "--no-first-run", "--disable-extensions"):
            options.add_argument(arg)
        cls.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        cls.driver.set_page_load_timeout(60)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.driver.quit()
        finally:
            cls.web.stop()
            shutil.rmtree(cls.profile, ignore_errors=True)
            cls.conn.close()
            admin = psycopg2.connect(conninfo("postgres"))
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % cls.dbname)
            admin.close()

    # Helpers ------------------------------------------------------------------

    def open(self, path):
        self.driver.get(self.web.url + path)
        self.assert_no_alert()
        return self.driver

    def assert_no_alert(self):
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return
        text = alert.text
        alert.dismiss()
        self.fail("an alert opened: " + text)

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def status_of(self, job_id):
        with self.conn.cursor() as cur:
            cur.execute("SELECT status, coalesce(log, '') FROM job WHERE id = %s", (job_id,))
            row = cur.fetchone()
        self.conn.commit()
        return row

    def screenshot(self, name):
        if SCREENSHOTS:
            os.makedirs(SCREENSHOTS, exist_ok=True)
            height = self.driver.execute_script(
                "return document.documentElement.scrollHeight")
            self.driver.set_window_size(1280, min(max(height + 140, 600), 2400))
            self.driver.save_screenshot(os.path.join(SCREENSHOTS, name))
            self.driver.set_window_size(1280, 1000)

    # Pages --------------------------------------------------------------------

    def test_1_overview_shows_each_type_its_chart_runners_and_actions(self):
        d = self.open("/")
        self.assertEqual(d.title, "Overview · jobrunner")
        rows = {r.find_element(By.TAG_NAME, "td").text: r
                for r in d.find_elements(By.CSS_SELECTOR, "main table:first-of-type tbody tr")}
        self.assertIn("foo", rows)
        self.assertIn("noop", rows)
        cells = [c.text for c in rows["foo"].find_elements(By.TAG_NAME, "td")]
        self.assertEqual(cells[1], "4")  # WAITING: the four dave jobs
        self.assertEqual(cells[9], "1")  # runners alive
        charts = d.find_elements(By.CSS_SELECTOR, "div.throughput svg")
        self.assertEqual(len(charts), 2)
        self.assertGreater(len(charts[0].find_elements(By.TAG_NAME, "rect")), 10)
        self.assertIn("worker-1", self.text())
        self.assertIn("worker-2", self.text())
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "form[action='/types/foo/pause']")), 1)
        self.screenshot("dashboard-overview.png")

    def test_2_jobs_list_filters_and_pages(self):
        d = self.open("/jobs")
        ids = [int(a.text) for a in d.find_elements(By.CSS_SELECTOR, "tbody td.n a")]
        self.assertEqual(len(ids), 50)
        self.assertEqual(ids, sorted(ids, reverse=True))
        d.find_element(By.ID, "older").click()
        more = [int(a.text) for a in d.find_elements(By.CSS_SELECTOR, "tbody td.n a")]
        self.assertTrue(more and max(more) < min(ids))
        # The filter form.
        self.open("/jobs")
        Select(d.find_element(By.NAME, "status")).select_by_visible_text("FAILED")
        Select(d.find_element(By.NAME, "type")).select_by_visible_text("foo")
        d.find_element(By.CSS_SELECTOR, "form.filters button").click()
        WebDriverWait(d, 30).until(lambda drv: "status=FAILED" in drv.current_url)
        statuses = {s.text for s in d.find_elements(By.CSS_SELECTOR, "tbody span.st")}
        self.assertEqual(statuses, {"FAILED"})
        self.open("/jobs?requester=bob")
        ids = [int(a.text) for a in d.find_elements(By.CSS_SELECTOR, "tbody td.n a")]
        self.assertEqual(ids, [self.jobs["failed"]])

    def test_3_a_jobs_page_shows_its_columns_metadata_attempts_reports_notices_and_log(self):
        d = self.open("/jobs/%d" % self.jobs["failed"])
        self.assertTrue(d.title.startswith("Job %d (foo, FAILED)" % self.jobs["failed"]))
        body = self.text()
        for part in ("requester", "bob", '"customer": "acme"', "attempt 4: failed",
                     "RetriesSpent", "upstream answered 503 four times", "Your FooJob failed"):
            self.assertIn(part, body)
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "form[action$='/retry']")), 1)
        self.screenshot("dashboard-job.png")

    def test_4_error_reports_and_runner_runs(self):
        self.open("/oops")
        self.assertIn("RetriesSpent", self.text())
        self.open("/runs")
        body = self.text()
        self.assertIn("cron-host", body)
        self.assertIn("alive", body)
        self.assertIn("finished", body)

    def test_5_hostile_metadata_is_shown_as_text(self):
        for path in ("/jobs/%d" % self.jobs["hostile"], "/jobs", "/oops"):
            d = self.open(path)
            self.assertEqual(d.find_elements(By.TAG_NAME, "img"), [], path)
            self.assertEqual(d.find_elements(By.CSS_SELECTOR, "main script"), [], path)
        d = self.open("/jobs/%d" % self.jobs["hostile"])
        metadata = d.find_element(By.ID, "metadata").text
        self.assertIn(SCRIPT, metadata)
        self.assertIn('img src=x onerror=alert(1)>', metadata)
        self.assertIn(IMG, self.text())  # the requester, as text

    def test_6_retry_from_the_browser_changes_the_database(self):
        job = self.jobs["failed"]
        self.assertEqual(self.status_of(job)[0], 3)
        d = self.open("/jobs/%d" % job)
        form = d.find_element(By.CSS_SELECTOR, "form[action='/jobs/%d/retry']" % job)
        form.find_element(By.NAME, "reason").send_keys("upstream fixed")
        form.find_element(By.TAG_NAME, "button").click()
        WebDriverWait(d, 30).until(lambda drv: "done=" in drv.current_url)
        self.assertIn("retry: job %d is now WAITING" % job, self.text())
        status, log = self.status_of(job)
        self.assertEqual(status, 0)
        self.assertIn("moved from FAILED to WAITING by 127.0.0.1 via jobctl web (retry): "
                      "upstream fixed", log)
        self.assertIn("WAITING", d.find_element(By.CSS_SELECTOR, "table.columns").text)

    def post_retry_with(self, job, script):
        """Submits the job page's retry form after `script` changed it."""
        d = self.open("/jobs/%d" % job)
        form = d.find_element(By.CSS_SELECTOR, "form[action='/jobs/%d/retry']" % job)
        d.execute_script(script + "arguments[0].submit();", form)
        WebDriverWait(d, 30).until(lambda drv: drv.current_url.endswith("/retry"))
        self.assertIn("CSRF token is missing or wrong", self.text())
        self.assertEqual(self.status_of(job)[0], 3)

    def test_7_a_form_without_its_csrf_token_is_refused(self):
        job = self.jobs["refused"]
        self.post_retry_with(job, "arguments[0].querySelector('input[name=csrf]').remove();")
        # And one with a forged value.
        self.post_retry_with(job, "arguments[0].querySelector('input[name=csrf]').value = '00';")

def main():
    global SCREENSHOTS
    parser = argparse.ArgumentParser()
    parser.add_argument("--screenshots", metavar="DIR")
    args, rest = parser.parse_known_args()
    SCREENSHOTS = args.screenshots
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        print("SKIP: chromium or chromedriver is not installed")
        return 77
    if psycopg2 is None:
        print("SKIP? no: python3-selenium and python3-psycopg2 are required: " + IMPORT_ERROR)
        return 1
    for name in ("JOBRUNNER_TEST_DSN", "JOBRUNNER_BIN_DIR"):
        if not os.environ.get(name):
            print(name + " is not set (see scripts/test.sh)")
            return 1
    result = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
