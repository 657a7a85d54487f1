// jobctl web, the dashboard: its HTML helpers, chart and access rules as
// units, then the real jobctl web started on a port it picks (port 0, the
// port read from its log line), against a seeded database, through
// httplib's client: every page, filters, keyset paging, the actions and
// their CSRF token, read-only mode, tokens, a role that may only read, and
// hostile metadata shown as text. The browser test is
// tests/browser/dashboard_test.py.
#include <httplib.h>

#include <chrono>
#include <regex>
#include <filesystem>
#include <string>
#include <vector>

#include "jobrunner/core/errors.hpp"
#include "jobctl_fixture.hpp"
#include "jobrunner/pg/admin.hpp"
#include "program.hpp"
#include "runner_process_test.hpp"
#include "web/html.hpp"
#include "web/security.hpp"
#include "web/svg_chart.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;
using jobctl_test::contains;
using jobctl_test::TempFile;
using testing::bin;
using testing::eventually;
using testing::Program;

constexpr int kOk = 0, kUsage = 64, kConfig = 78;
constexpr std::int64_t kSuspended = 4, kCancelled = 5;
constexpr auto kScript = "<script>alert(1)</script>";
constexpr auto kImg = "\"><img src=x onerror=alert(1)>";

// ---- Units ----------------------------------------------------------------------

TEST(WebHtml, escape_turns_every_markup_character_into_a_reference) {
  EXPECT_EQ(jobctl::web::escape(R"(<a href="x" title='y'>&</a>)"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(jobctl::web::escape("plain"), "plain");
}

TEST(WebHtml, the_builder_escapes_text_and_quotes_every_attribute) {
  jobctl::web::Html h;
  h.element("td", kScript, {{"title", kImg}});
  EXPECT_EQ(h.str(),
            "<td title=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\">&lt;script&gt;alert(1)"
            "&lt;/script&gt;</td>");
  EXPECT_EQ(jobctl::web::url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

TEST(WebChart, bars_scale_to_the_largest_stack_and_labels_are_escaped) {
  jobctl::web::BarChart chart;
  chart.title = "t<1>";
  chart.series = {{"ok", "#0a0"}, {"bad<", "#a00"}};
  chart.labels = {"00:00", "00:01"};
  chart.values = {{1, 1}, {4, 0}};
  const auto svg = jobctl::web::render_svg(chart);
  EXPECT_TRUE(contains(svg, "<svg"));
  EXPECT_TRUE(contains(svg, "t&lt;1&gt;"));
  EXPECT_TRUE(contains(svg, "bad&lt;"));
  EXPECT_EQ(svg.find("bad<"), std::string::npos);
  EXPECT_TRUE(contains(svg, ">4</text>"));  // the axis: the largest stack
  EXPECT_EQ(std::count(svg.begin(), svg.end(), 'g') > 0, true);
  chart.values = {{0, 0}, {0, 0}};
  EXPECT_TRUE(contains(jobctl::web::render_svg(chart), ">none</text>"));
}

TEST(WebSecurity, tokens_are_named_lines_or_one_bare_token) {
  const auto tokens = jobctl::web::parse_tokens(
      "# operators\nalice:0123456789abcdef0123\n\nbob : fedcba9876543210fedc \n", "f");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].name, "alice");
  EXPECT_EQ(tokens[1].name, "bob");
  EXPECT_EQ(tokens[1].secret, "fedcba9876543210fedc");
  const auto bare = jobctl::web::parse_tokens("0123456789abcdef0123\n", "f");
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_EQ(bare[0].name, "token");
  EXPECT_EQ(jobctl::web::match_token(tokens, "fedcba9876543210fedc"), "bob");
  EXPECT_FALSE(jobctl::web::match_token(tokens, "fedcba9876543210fedX"));
  EXPECT_THROW(jobctl::web::parse_tokens("# nothing\n", "f"), ConfigError);
  EXPECT_THROW(jobctl::web::parse_tokens("short\n", "f"), ConfigError);
  EXPECT_THROW(jobctl::web::parse_tokens("a:0123456789abcdef0\na:0123456789abcdef1\n", "f"),
               ConfigError);
}

TEST(WebSecurity, headers_and_comparisons) {
  EXPECT_TRUE(jobctl::web::equal_in_constant_time("abc", "abc"));
  EXPECT_FALSE(jobctl::web::equal_in_constant_time("abc", "abd"));
  EXPECT_FALSE(jobctl::web::equal_in_constant_time("abc", "abcd"));
  EXPECT_FALSE(jobctl::web::equal_in_constant_time("", "a"));
  EXPECT_EQ(jobctl::web::bearer_of("Bearer xyz"), "xyz");
  EXPECT_EQ(jobctl::web::bearer_of("bearer  xyz "), "xyz");
  EXPECT_FALSE(jobctl::web::bearer_of("Basic eHl6"));
  EXPECT_EQ(jobctl::web::cookie_of("a=1; jobctl_web_token=s3; b=2", "jobctl_web_token"), "s3");
  EXPECT_FALSE(jobctl::web::cookie_of("a=1", "jobctl_web_token"));
  EXPECT_TRUE(jobctl::web::is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(jobctl::web::is_loopback_host("localhost"));
  EXPECT_TRUE(jobctl::web::is_loopback_host("::1"));
  EXPECT_FALSE(jobctl::web::is_loopback_host("127.0.0.1.evil.example"));
  EXPECT_FALSE(jobctl::web::is_loopback_host("0.0.0.0"));
  EXPECT_EQ(jobctl::web::random_hex(16).size(), 32u);
  EXPECT_NE(jobctl::web::random_hex(16), jobctl::web::random_hex(16));
}

// ---- The real jobctl web ------------------------------------------------------

class WebDashboardTest : public testing::RunnerProcessTest {
 protected:
  // jobctl web on a free loopback port, as `user` (default: the superuser).
  struct Web {
    std::unique_ptr<Program> program;
    int port = 0;
  };
  Web start(std::vector<std::string> options, const std::optional<std::string>& user = {}) {
    std::vector<std::string> argv{bin("jobctl"), "--db", db.conninfo(user), "web", "--listen",
                                  "127.0.0.1:0"};
    argv.insert(argv.end(), options.begin(), options.end());
    Web web;
    web.program = std::make_unique<Program>(argv);
    static const std::regex line(R"(listening on http://127\.0\.0\.1:(\d+)/)");
    EXPECT_TRUE(eventually([&] {
      std::smatch m;
      const auto err = web.program->stderr_so_far();
      if (!std::regex_search(err, m, line)) return false;
      web.port = std::stoi(m[1].str());
      return true;
    })) << web.program->stderr_so_far();
    return web;
  }
  static httplib::Result get(const Web& web, const std::string& path,
                             const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", web.port);
    return client.Get(path.c_str(), headers);
  }
  static std::string page(const Web& web, const std::string& path) {
    const auto res = get(web, path);
    EXPECT_TRUE(res) << path;
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << path << "\n" << res->body;
    EXPECT_TRUE(contains(res->get_header_value("Content-Type"), "text/html"));
    return res->body;
  }
  static httplib::Result post(const Web& web, const std::string& path, const httplib::Params& form,
                              const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", web.port);
    return client.Post(path.c_str(), headers, form);
  }
  // The CSRF token in a page's forms.
  static std::string csrf_of(const std::string& html) {
    static const std::regex input(R"re(name="csrf" value="([0-9a-f]+)")re");
    std::smatch m;
    if (!std::regex_search(html, m, input)) return {};
    return m[1].str();
  }
  // A FooJob in `status`, with hostile metadata and requester.
  std::int64_t seed_job(std::int64_t status, const std::string& requester = "alice") {
    const auto foo = db.make_foo();
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = store.enqueue(tx, {.target_id = foo,
                                       .metadata = {{"note", kScript}, {"attr", kImg}},
                                       .requester = requester});
    tx.commit();
    if (status != kWaiting) {
      db.sql("UPDATE job SET status = $2::smallint, attempt_count = 1, date_started = now(), "
             "date_finished = CASE WHEN $2::smallint IN (2, 3, 5) THEN now() END, "
             "log = 'attempt 1: failed: " + std::string(kScript) + "' WHERE id = $1",
             id, status);
    }
    return id;
  }
  std::string who_moved(std::int64_t id) const { return log_of(id); }
  // Everything an action could change.
  std::string snapshot() const {
    return db.sql("SELECT coalesce(string_agg(id || ':' || status || ':' || coalesce(log, ''), "
                  "',' ORDER BY id), '') || '|' || (SELECT count(*) FROM job_type_pause) AS s "
                  "FROM job")
        .at(0)
        .text("s");
  }
  // SIGTERM; exit 0. Returns what it logged.
  static std::string stop(Web& web) {
    web.program->signal(SIGTERM);
    EXPECT_TRUE(web.program->exited_within(60s)) << "jobctl web did not stop on SIGTERM";
    const auto result = web.program->wait();
    EXPECT_EQ(result.exit_code, kOk) << result.err;
    return result.err;
  }
};

TEST_F(WebDashboardTest, every_page_answers_and_shows_what_it_should) {
  const auto failed = seed_job(kFailed);
  const auto waiting = seed_job(kWaiting);
  db.sql("INSERT INTO error_report (job, error_type, message) VALUES ($1, 'ValueError', $2)",
         failed, std::string("bad ") + kScript);
  db.sql("INSERT INTO job_notification (job, recipient, subject, body) "
         "VALUES ($1, 'alice', 'job failed', 'the body')",
         failed);
  db.sql("INSERT INTO runner_run (job_type, hostname, pid, last_seen) "
         "VALUES ('foo', 'host-alive', 42, now())");
  db.sql("INSERT INTO job_type_pause (job_type, paused_by, reason) VALUES ('noop', 'carol', "
         "'maintenance')");
  auto web = start({});

  const auto overview = page(web, "/");
  EXPECT_TRUE(contains(overview, "<title>Overview"));
  EXPECT_TRUE(contains(overview, ">foo</a>"));
  EXPECT_TRUE(contains(overview, ">noop</a>"));
  EXPECT_TRUE(contains(overview, "Jobs finished per minute, last hour"));
  EXPECT_TRUE(contains(overview, "<svg"));
  EXPECT_TRUE(contains(overview, "host-alive"));
  EXPECT_TRUE(contains(overview, "noop: paused by carol"));
  EXPECT_TRUE(contains(overview, "href=\"/jobs?type=foo&amp;status=FAILED\">1</a>"));
  EXPECT_EQ(overview.find("<form method=\"post\""), std::string::npos) << "actions are off";

  const auto jobs = page(web, "/jobs");
  EXPECT_TRUE(contains(jobs, "href=\"/jobs/" + std::to_string(failed) + "\""));
  EXPECT_TRUE(contains(jobs, "href=\"/jobs/" + std::to_string(waiting) + "\""));

  const auto job = page(web, "/jobs/" + std::to_string(failed));
  EXPECT_TRUE(contains(job, "<title>Job " + std::to_string(failed) + " (foo, FAILED)"));
  EXPECT_TRUE(contains(job, "OOPS-"));
  EXPECT_TRUE(contains(job, "ValueError"));
  EXPECT_TRUE(contains(job, "job failed"));
  EXPECT_TRUE(contains(job, "Attempts (from the log)"));
  EXPECT_TRUE(contains(job, "&quot;note&quot;"));  // the metadata, pretty JSON

  const auto oops = page(web, "/oops");
  EXPECT_TRUE(contains(oops, "ValueError"));
  EXPECT_TRUE(contains(oops, "href=\"/jobs/" + std::to_string(failed) + "\""));
  const auto runs = page(web, "/runs");
  EXPECT_TRUE(contains(runs, "host-alive"));
  EXPECT_TRUE(contains(runs, ">alive<"));

  EXPECT_EQ(get(web, "/jobs/999999")->status, 404);
  EXPECT_EQ(get(web, "/nowhere")->status, 404);
  EXPECT_EQ(get(web, "/jobs?status=LOST")->status, 400);
  EXPECT_EQ(get(web, "/jobs?type=nosuchtype")->status, 400);
  stop(web);
}

TEST_F(WebDashboardTest, hostile_metadata_requesters_logs_and_messages_are_shown_as_text) {
  const auto id = seed_job(kFailed, kImg);
  db.sql("INSERT INTO error_report (job, error_type, message) VALUES ($1, $2, $3)", id,
         std::string(kImg), std::string(kScript));
  auto web = start({"--allow-actions"});
  for (const auto& path : {std::string("/"), std::string("/jobs"),
                           "/jobs/" + std::to_string(id), std::string("/oops"),
                           "/jobs?requester=" + jobctl::web::url_encode(kImg)}) {
    const auto html = page(web, path);
    EXPECT_EQ(html.find("<script"), std::string::npos) << path;
    EXPECT_EQ(html.find("<img"), std::string::npos) << path;
    EXPECT_EQ(html.find("onerror=alert(1)>"), std::string::npos) << path;
  }
  const auto job = page(web, "/jobs/" + std::to_string(id));
  EXPECT_TRUE(contains(job, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(contains(job, "&lt;img src=x onerror=alert(1)&gt;"));
  const auto filtered = page(web, "/jobs?requester=" + jobctl::web::url_encode(kImg));
  EXPECT_TRUE(contains(filtered, "href=\"/jobs/" + std::to_string(id) + "\""));
  EXPECT_TRUE(contains(filtered, "value=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\""));
  // A message in the query string is text too.
  const auto flash = page(web, "/?done=" + jobctl::web::url_encode(kScript));
  EXPECT_EQ(flash.find("<script"), std::string::npos);
  EXPECT_TRUE(contains(get(web, "/")->get_header_value("Content-Security-Policy"),
                       "default-src 'none'"));
  stop(web);
}

TEST_F(WebDashboardTest, filters_narrow_the_list_and_pages_follow_ids_downwards) {
  db.sql("INSERT INTO job (job_type, status, requester, date_created, date_finished) "
         "SELECT 'foo', 2, CASE WHEN i % 2 = 0 THEN 'bob' END, now() - interval '2 days', "
         "now() - interval '2 days' FROM generate_series(1, 120) AS i");
  const auto recent = seed_job(kFailed, "carol");
  auto web = start({});

  const auto first = page(web, "/jobs");
  std::regex id_link(R"re(<td class="n"><a href="/jobs/(\d+)">)re");
  const auto ids_of = [&](const std::string& html) {
    std::vector<std::int64_t> ids;
    for (std::sregex_iterator it(html.begin(), html.end(), id_link), end; it != end; ++it) {
      ids.push_back(std::stoll((*it)[1].str()));
    }
    return ids;
  };
  const auto page1 = ids_of(first);
  ASSERT_EQ(page1.size(), 50u);
  EXPECT_EQ(page1.front(), recent);
  EXPECT_TRUE(std::is_sorted(page1.rbegin(), page1.rend()));
  static const std::regex older(R"re(<a href="(/jobs\?before=(\d+))" id="older")re");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(first, m, older)) << first;
  EXPECT_EQ(std::stoll(m[2].str()), page1.back());
  const auto page2 = ids_of(page(web, m[1].str()));
  ASSERT_EQ(page2.size(), 50u);
  EXPECT_LT(page2.front(), page1.back());
  const auto page3html = page(web, "/jobs?before=" + std::to_string(page2.back()));
  const auto page3 = ids_of(page3html);
  EXPECT_EQ(page3.size(), 21u);  // 121 jobs
  EXPECT_EQ(page3html.find("id=\"older\""), std::string::npos);

  EXPECT_EQ(ids_of(page(web, "/jobs?status=FAILED")), std::vector<std::int64_t>{recent});
  EXPECT_EQ(ids_of(page(web, "/jobs?requester=carol")), std::vector<std::int64_t>{recent});
  EXPECT_EQ(ids_of(page(web, "/jobs?created_after=1h")), std::vector<std::int64_t>{recent});
  EXPECT_EQ(ids_of(page(web, "/jobs?type=noop")).size(), 0u);
  EXPECT_EQ(ids_of(page(web, "/jobs?requester=bob&created_before=1d")).size(), 50u);
  // The next page keeps the filters.
  const auto bob = page(web, "/jobs?requester=bob");
  ASSERT_TRUE(std::regex_search(bob, m, std::regex(R"re(href="(/jobs\?requester=bob&amp;before=\d+)")re")))
      << bob;
  EXPECT_EQ(get(web, "/jobs?before=abc")->status, 400);
  stop(web);
}

TEST_F(WebDashboardTest, actions_move_jobs_and_pause_types_and_say_who_did_it) {
  const auto failed = seed_job(kFailed);
  const auto waiting = seed_job(kWaiting);
  auto web = start({"--allow-actions"});
  const auto html = page(web, "/jobs/" + std::to_string(failed));
  const auto csrf = csrf_of(html);
  ASSERT_EQ(csrf.size(), 64u) << html;
  EXPECT_TRUE(contains(html, "action=\"/jobs/" + std::to_string(failed) + "/retry\""));
  EXPECT_EQ(html.find("/cancel\""), std::string::npos) << "a FAILED job cannot be cancelled";

  auto res = post(web, "/jobs/" + std::to_string(failed) + "/retry",
                  {{"csrf", csrf}, {"reason", "fixed upstream"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 303);
  EXPECT_EQ(res->get_header_value("Location").rfind("/jobs/" + std::to_string(failed), 0), 0u);
  EXPECT_EQ(status_of(failed), kWaiting);
  EXPECT_TRUE(contains(log_of(failed),
                       "moved from FAILED to WAITING by 127.0.0.1 via jobctl web (retry): fixed "
                       "upstream"));
  EXPECT_TRUE(contains(page(web, res->get_header_value("Location")), "retry: job"));

  EXPECT_EQ(post(web, "/jobs/" + std::to_string(waiting) + "/suspend", {{"csrf", csrf}})->status, 303);
  EXPECT_EQ(status_of(waiting), kSuspended);
  EXPECT_EQ(post(web, "/jobs/" + std::to_string(waiting) + "/resume", {{"csrf", csrf}})->status, 303);
  EXPECT_EQ(status_of(waiting), kWaiting);
  EXPECT_EQ(post(web, "/jobs/" + std::to_string(waiting) + "/cancel", {{"csrf", csrf}})->status, 303);
  EXPECT_EQ(status_of(waiting), kCancelled);
  // A refused move: 409, with the message jobctl gives.
  res = post(web, "/jobs/" + std::to_string(waiting) + "/resume", {{"csrf", csrf}});
  EXPECT_EQ(res->status, 409);
  EXPECT_TRUE(contains(res->body, "is CANCELLED"));

  EXPECT_EQ(post(web, "/types/foo/pause", {{"csrf", csrf}, {"reason", "upgrade"}})->status, 303);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_type_pause WHERE job_type = 'foo' AND "
                      "paused_by = '127.0.0.1 via jobctl web' AND reason = 'upgrade'"),
            1);
  EXPECT_TRUE(contains(page(web, "/"), "action=\"/types/foo/unpause\""));
  EXPECT_EQ(post(web, "/types/foo/pause", {{"csrf", csrf}})->status, 400);  // paused already
  EXPECT_EQ(post(web, "/types/foo/unpause", {{"csrf", csrf}})->status, 303);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM job_type_pause"), 0);
  EXPECT_EQ(post(web, "/types/nosuch/pause", {{"csrf", csrf}})->status, 404);
  const auto log = stop(web);
  EXPECT_TRUE(contains(log, "web: 127.0.0.1 (127.0.0.1) retry job " + std::to_string(failed) +
                                " (foo): FAILED -> WAITING: fixed upstream"));
  EXPECT_TRUE(contains(log, "pause job type foo"));
}

TEST_F(WebDashboardTest, a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing) {
  const auto failed = seed_job(kFailed);
  auto web = start({"--allow-actions"});
  const auto before = snapshot();
  for (const httplib::Params& form :
       {httplib::Params{}, httplib::Params{{"csrf", ""}},
        httplib::Params{{"csrf", std::string(64, '0')}}, httplib::Params{{"csrf", "x"}}}) {
    const auto res = post(web, "/jobs/" + std::to_string(failed) + "/retry", form);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403);
    EXPECT_TRUE(contains(res->body, "CSRF"));
    EXPECT_EQ(post(web, "/types/foo/pause", form)->status, 403);
  }
  EXPECT_EQ(snapshot(), before);
  // The token of another server start is no token of this one.
  auto other = start({"--allow-actions"});
  const auto foreign = csrf_of(page(other, "/jobs/" + std::to_string(failed)));
  EXPECT_EQ(post(web, "/jobs/" + std::to_string(failed) + "/retry", {{"csrf", foreign}})->status,
            403);
  EXPECT_EQ(snapshot(), before);
  stop(other);
  stop(web);
}

TEST_F(WebDashboardTest, without_allow_actions_no_form_is_shown_and_every_post_is_refused) {
  const auto failed = seed_job(kFailed);
  auto web = start({});
  const auto html = page(web, "/jobs/" + std::to_string(failed));
  EXPECT_EQ(html.find("method=\"post\""), std::string::npos);
  EXPECT_EQ(csrf_of(html), "");
  const auto before = snapshot();
  const auto res = post(web, "/jobs/" + std::to_string(failed) + "/retry", {{"csrf", "x"}});
  EXPECT_EQ(res->status, 403);
  EXPECT_TRUE(contains(res->body, "read-only"));
  EXPECT_EQ(post(web, "/types/foo/pause", {})->status, 403);
  EXPECT_EQ(snapshot(), before);
  EXPECT_TRUE(contains(stop(web), "actions are off"));
}

TEST_F(WebDashboardTest, with_a_token_file_every_request_needs_a_token_by_header_or_login_cookie) {
  const auto failed = seed_job(kFailed);
  TempFile tokens("alice:alice-secret-0123456789\nbob:bob-secret-0123456789ab\n");
  auto web = start({"--allow-actions", "--token-file", tokens.path()});
  auto res = get(web, "/");
  EXPECT_EQ(res->status, 401);
  EXPECT_TRUE(contains(res->body, "action=\"/login\""));
  EXPECT_EQ(get(web, "/", {{"Authorization", "Bearer wrong-secret-0123456789"}})->status, 401);
  EXPECT_EQ(get(web, "/jobs", {{"Cookie", "jobctl_web_token=wrong"}})->status, 401);
  const httplib::Headers alice{{"Authorization", "Bearer alice-secret-0123456789"}};
  res = get(web, "/jobs/" + std::to_string(failed), alice);
  ASSERT_EQ(res->status, 200);
  const auto csrf = csrf_of(res->body);
  // A POST needs the token too, even with the right CSRF token.
  EXPECT_EQ(post(web, "/jobs/" + std::to_string(failed) + "/retry", {{"csrf", csrf}})->status, 401);
  EXPECT_EQ(status_of(failed), kFailed);

  // The login form sets a cookie that later requests carry.
  EXPECT_EQ(post(web, "/login", {{"token", "nope-nope-nope-nope"}})->status, 401);
  res = post(web, "/login", {{"token", "bob-secret-0123456789ab"}});
  ASSERT_EQ(res->status, 303);
  const auto cookie = res->get_header_value("Set-Cookie");
  EXPECT_TRUE(contains(cookie, "HttpOnly"));
  EXPECT_TRUE(contains(cookie, "SameSite=Strict"));
  const httplib::Headers bob{{"Cookie", cookie.substr(0, cookie.find(';'))}};
  EXPECT_EQ(get(web, "/", bob)->status, 200);
  EXPECT_EQ(post(web, "/jobs/" + std::to_string(failed) + "/retry", {{"csrf", csrf}}, bob)->status,
            303);
  EXPECT_EQ(status_of(failed), kWaiting);
  EXPECT_TRUE(contains(log_of(failed), "by bob via jobctl web (retry)"));
  stop(web);
}

TEST_F(WebDashboardTest, a_role_that_may_only_read_sees_every_page_and_gets_a_clear_refusal) {
  const auto failed = seed_job(kFailed);
  db.sql("INSERT INTO runner_run (job_type, hostname, pid, last_seen) VALUES ('foo', 'h', 1, now())");
  db.sql("DO $$ BEGIN CREATE ROLE jobrunner_web_reader LOGIN; EXCEPTION WHEN duplicate_object "
         "THEN NULL; END $$");
  db.sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO jobrunner_web_reader");
  auto web = start({"--allow-actions"}, "jobrunner_web_reader");
  for (const auto& path : {std::string("/"), std::string("/jobs"),
                           "/jobs/" + std::to_string(failed), std::string("/oops"),
                           std::string("/runs")}) {
    page(web, path);
  }
  const auto csrf = csrf_of(page(web, "/jobs/" + std::to_string(failed)));
  const auto before = snapshot();
  auto res = post(web, "/jobs/" + std::to_string(failed) + "/retry", {{"csrf", csrf}});
  EXPECT_EQ(res->status, 403);
  EXPECT_TRUE(contains(res->body, "may not do this"));
  res = post(web, "/types/foo/pause", {{"csrf", csrf}});
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(snapshot(), before);
  page(web, "/");  // still serving
  stop(web);
}

TEST_F(WebDashboardTest, a_request_for_another_host_name_is_refused_on_loopback) {
  auto web = start({});
  EXPECT_EQ(get(web, "/", {{"Host", "evil.example:8080"}})->status, 403);
  EXPECT_EQ(get(web, "/", {{"Host", "localhost:8080"}})->status, 200);
  stop(web);
}

TEST_F(WebDashboardTest, configuration_errors_exit_78_and_bad_options_64) {
  const auto jobctl_web = [&](std::vector<std::string> options) {
    std::vector<std::string> argv{bin("jobctl"), "--db", db.conninfo(), "web"};
    argv.insert(argv.end(), options.begin(), options.end());
    return testing::run_program(argv);
  };
  auto missing = jobctl_web({"--listen", "127.0.0.1:0", "--token-file", "/nonexistent/tokens"});
  EXPECT_EQ(missing.exit_code, kConfig) << missing.err;
  EXPECT_TRUE(contains(missing.err, "--token-file /nonexistent/tokens: cannot be read"));
  TempFile empty("# no token\n");
  auto none = jobctl_web({"--listen", "127.0.0.1:0", "--token-file", empty.path()});
  EXPECT_EQ(none.exit_code, kConfig) << none.err;
  EXPECT_EQ(jobctl_web({"--listen", "127.0.0.1"}).exit_code, kUsage);
  auto web = start({});
  auto taken = jobctl_web({"--listen", "127.0.0.1:" + std::to_string(web.port)});
  EXPECT_EQ(taken.exit_code, kConfig) << taken.err;
  EXPECT_TRUE(contains(taken.err, "cannot listen on 127.0.0.1:" + std::to_string(web.port)));
  // A token file that any user may read is said before anything is served.
  TempFile readable("alice:0123456789abcdef0123\n");
  std::filesystem::permissions(readable.path(), std::filesystem::perms(0644));
  auto loose = jobctl_web({"--listen", "127.0.0.1:" + std::to_string(web.port), "--token-file",
                           readable.path()});
  EXPECT_TRUE(contains(loose.err, readable.path() + " holds secrets and may be read by any user"))
      << loose.err;
  const auto help = testing::run_program({bin("jobctl"), "web", "--help"});
  EXPECT_EQ(help.exit_code, kOk);
  for (const char* option : {"--listen", "--allow-actions", "--token-file", "Exit codes"}) {
    EXPECT_TRUE(contains(help.out, option));
  }
  web.program->signal(SIGINT);
  ASSERT_TRUE(web.program->exited_within(60s));
  EXPECT_EQ(web.program->wait().exit_code, kOk);
}

}  // namespace
}  // namespace jobrunner
