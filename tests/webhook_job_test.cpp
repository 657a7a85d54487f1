// WebhookJob (issue 12, item 2; jobs/webhook/): the pure parts (signatures,
// Retry-After, how an answer maps to an outcome, the endpoints file), then
// run-webhook-jobs against a real receiver on loopback
// (tests/servers/webhook_receiver.py, started by each test on an ephemeral
// port; it records every request before answering and verifies the
// signature itself), over HTTP and HTTPS with a test CA made here with
// openssl. No timing assertion: the receiver's record and the job's row
// are read after the runner exited.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobctl_fixture.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/migrations.hpp"
#include "jobrunner/pg/registry.hpp"
#include "webhook/endpoints.hpp"
#include "webhook/signature.hpp"
#include "webhook/webhook_job.hpp"

namespace jobrunner::jobctl_test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace wh = jobrunner::webhook;

constexpr int kConfig = 78;
const std::filesystem::path kPackage = JOBRUNNER_WEBHOOK_PACKAGE_DIR;
const std::filesystem::path kReceiver = JOBRUNNER_WEBHOOK_RECEIVER;

// ---- Pure parts -------------------------------------------------------------

TEST(WebhookSignature, hmac_sha256_matches_rfc_4231) {
  EXPECT_EQ(wh::hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookSignature, signs_t_dot_body_once_per_secret_in_order) {
  const auto one = wh::signature_header({"s1"}, 1700000000, R"({"a":1})");
  EXPECT_EQ(one, "t=1700000000,v1=" + wh::hmac_sha256_hex("s1", R"(1700000000.{"a":1})"));
  const auto two = wh::signature_header({"new", "old"}, 42, "{}");
  EXPECT_EQ(two, "t=42,v1=" + wh::hmac_sha256_hex("new", "42.{}") +
                     ",v1=" + wh::hmac_sha256_hex("old", "42.{}"));
}

TEST(WebhookRetryAfter, reads_seconds_and_http_dates_and_ignores_the_rest) {
  const auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(wh::parse_retry_after("120", now), Duration(120s));
  EXPECT_EQ(wh::parse_retry_after(" 0 ", now), Duration(0s));
  EXPECT_EQ(wh::parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), Duration(120s));
  EXPECT_EQ(wh::parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now), Duration(60s));
  EXPECT_EQ(wh::parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Duration(0s));  // past
  EXPECT_FALSE(wh::parse_retry_after("soon", now));
  EXPECT_FALSE(wh::parse_retry_after("", now));
  EXPECT_FALSE(wh::parse_retry_after("-5", now));
  // Absurd values are honoured up to a year, without overflow.
  EXPECT_EQ(wh::parse_retry_after("99999999999999999999999", now), Duration(24h * 365));
}

wh::HttpResponse answer(long status, std::string body = "ok") {
  wh::HttpResponse r;
  r.status = status;
  r.body_head = body;
  r.body_size = body.size();
  r.latency = 12ms;
  return r;
}

TEST(WebhookJudge, maps_every_status_class_to_its_outcome) {
  using K = wh::Verdict::Kind;
  const wh::Endpoint e{.name = "billing"};
  const auto now = std::chrono::system_clock::now();
  for (const long s : {200L, 201L, 204L, 299L}) EXPECT_EQ(wh::judge(e, answer(s), now).kind, K::completed) << s;
  for (const long s : {408L, 429L, 500L, 502L, 503L, 599L}) EXPECT_EQ(wh::judge(e, answer(s), now).kind, K::retry) << s;
  for (const long s : {400L, 401L, 403L, 404L, 409L, 410L, 422L, 499L}) EXPECT_EQ(wh::judge(e, answer(s), now).kind, K::user_error) << s;
  for (const long s : {300L, 301L, 302L, 303L, 307L, 308L}) EXPECT_EQ(wh::judge(e, answer(s), now).kind, K::user_error) << s;
  for (const long s : {100L, 600L, 999L}) EXPECT_EQ(wh::judge(e, answer(s), now).kind, K::unexpected) << s;
}

TEST(WebhookJudge, no_answer_is_a_retry_but_too_many_redirects_a_user_error) {
  using K = wh::Verdict::Kind;
  using F = wh::HttpResponse::Failure;
  const wh::Endpoint e{.name = "billing"};
  const auto now = std::chrono::system_clock::now();
  for (const auto f : {F::connect, F::timeout, F::tls}) {
    wh::HttpResponse r;
    r.failure = f;
    r.error = "curl said so";
    const auto v = wh::judge(e, r, now);
    EXPECT_EQ(v.kind, K::retry);
    EXPECT_TRUE(contains(v.line, "curl said so"));
    EXPECT_FALSE(v.min_delay);
  }
  wh::HttpResponse r;
  r.failure = F::redirects;
  EXPECT_EQ(wh::judge(e, r, now).kind, K::user_error);
  r.failure = F::other;
  EXPECT_EQ(wh::judge(e, r, now).kind, K::unexpected);
}

TEST(WebhookJudge, a_retry_carries_retry_after_as_its_minimum_delay) {
  const wh::Endpoint e{.name = "billing"};
  auto r = answer(503, "busy");
  r.retry_after = "90";
  const auto v = wh::judge(e, r, std::chrono::system_clock::now());
  ASSERT_TRUE(v.min_delay);
  EXPECT_EQ(*v.min_delay, Duration(90s));
  EXPECT_TRUE(contains(v.line, "Retry-After 1m30s"));
  r.retry_after = "whenever";
  const auto ignored = wh::judge(e, r, std::chrono::system_clock::now());
  EXPECT_FALSE(ignored.min_delay);
  EXPECT_TRUE(contains(ignored.line, "not understood"));
}

TEST(WebhookJudge, the_log_line_names_endpoint_status_latency_and_a_bounded_printable_body) {
  const wh::Endpoint e{.name = "billing", .method = "PUT"};
  auto r = answer(500, std::string(wh::kLoggedBody, 'x'));
  r.body_size = 5000;
  r.body_head[3] = '\n';
  const auto v = wh::judge(e, r, std::chrono::system_clock::now());
  EXPECT_TRUE(contains(v.line, "webhook billing: PUT answered 500 in 12ms, body: xxx.xx"));
  EXPECT_TRUE(contains(v.line, "... (5000 bytes)"));
  EXPECT_EQ(v.line.find('\n'), std::string::npos);
}

TEST(WebhookIdempotencyKey, is_derived_from_the_job_or_taken_from_its_metadata) {
  Job job;
  job.id = 7;
  job.date_created = std::chrono::system_clock::from_time_t(1700000000);
  EXPECT_EQ(wh::idempotency_key(job), "job-7-1700000000000000");
  job.metadata = {{"idempotency_key", "evt_123"}};
  EXPECT_EQ(wh::idempotency_key(job), "evt_123");
  job.metadata = {{"idempotency_key", "has space"}};
  EXPECT_THROW((void)wh::idempotency_key(job), UserError);
  job.metadata = {{"idempotency_key", 5}};
  EXPECT_THROW((void)wh::idempotency_key(job), UserError);
}

TEST(WebhookEndpoints, reads_a_complete_file_with_defaults) {
  const auto endpoints = wh::parse_endpoints(R"({"endpoints": {
      "billing": {"url": "https://billing.example.com/hook", "secret": "s3cret",
                  "headers": {"X-Source": "jobrunner"}, "timeout": "30s",
                  "method": "PUT", "allow_redirects": true},
      "plain": {"url": "http://127.0.0.1:9/x", "secrets": ["new", "old"]}}})",
                                             "test");
  ASSERT_EQ(endpoints.size(), 2U);
  const auto& b = endpoints.at("billing");
  EXPECT_EQ(b.url, "https://billing.example.com/hook");
  EXPECT_EQ(b.method, "PUT");
  EXPECT_EQ(b.timeout, Duration(30s));
  EXPECT_TRUE(b.allow_redirects);
  EXPECT_EQ(b.headers, (std::vector<std::pair<std::string, std::string>>{{"X-Source", "jobrunner"}}));
  const auto& p = endpoints.at("plain");
  EXPECT_EQ(p.method, "POST");
  EXPECT_EQ(p.timeout, Duration(10s));
  EXPECT_FALSE(p.allow_redirects);
  EXPECT_EQ(p.secrets, (std::vector<std::string>{"new", "old"}));
  EXPECT_TRUE(p.ca_file.empty());
}

TEST(WebhookEndpoints, a_secret_file_holds_one_or_two_secrets_and_is_found_beside_the_file) {
  const auto dir = std::filesystem::temp_directory_path() / ("wh-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "billing.secret") << "# rotated 2026-01-01\nnew-one\n\nold-one\n";
  std::ofstream(dir / "endpoints.json")
      << R"({"endpoints": {"b": {"url": "https://x.example/", "secret_file": "billing.secret"}}})";
  const auto endpoints = wh::load_endpoints(dir / "endpoints.json");
  EXPECT_EQ(endpoints.at("b").secrets, (std::vector<std::string>{"new-one", "old-one"}));
  std::filesystem::remove_all(dir);
}

TEST(WebhookEndpoints, refuses_what_cannot_be_used_naming_the_file_and_the_problem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {R"([])", "\"endpoints\" object"},
      {R"({"endpoints": {}, "extra": 1})", "unknown top-level field 'extra'"},
      {R"({"endpoints": {"a": {"secret": "s"}}})", "endpoint 'a': no \"url\""},
      {R"({"endpoints": {"a": {"url": "ftp://x/", "secret": "s"}}})", "http:// or https://"},
      {R"({"endpoints": {"a": {"url": "file:///etc/passwd", "secret": "s"}}})", "http:// or https://"},
      {R"({"endpoints": {"a": {"url": "https://x/"}}})", "give exactly one of"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "secrets": ["t"]}}})", "give exactly one of"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secrets": ["a", "b", "c"]}}})", "has 3 secrets"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secrets": ["a", "a"]}}})", "the same"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": " s"}}})", "white space"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "method": "GET"}}})", "POST, PUT or PATCH"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "timeout": "0s"}}})", "\"timeout\" must be from 1s"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "timeout": "soon"}}})", "\"timeout\""},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "headers": {"Content-Type": "x"}}}})", "set by the runner"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "headers": {"Webhook-Signature": "x"}}}})", "set by the runner"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "headers": {"X-A": "a\nb"}}}})", "control character"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "headers": {"Bad Name": "x"}}}})", "not a valid header name"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "ca_file": "/nonexistent/ca.pem"}}})", "cannot read CA file"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret_file": "/nonexistent/s"}}})", "cannot read secret file"},
      {R"({"endpoints": {"a": {"url": "https://x/", "secret": "s", "allow_redirect": true}}})", "unknown field 'allow_redirect'"},
      {R"({"endpoints": {"a b": {"url": "https://x/", "secret": "s"}}})", "endpoint name 'a b'"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    try {
      (void)wh::parse_endpoints(text, "endpoints file 'e.json'");
      ADD_FAILURE() << "accepted";
    } catch (const ConfigError& e) {
      EXPECT_TRUE(contains(e.what(), "endpoints file 'e.json'"));
      EXPECT_TRUE(contains(e.what(), message));
    }
  }
}

// ---- Against a real receiver ------------------------------------------------

// tests/servers/webhook_receiver.py in a child process: started in the
// constructor, which returns once it printed its port; stopped (SIGTERM) in
// the destructor.
class Receiver {
 public:
  Receiver(const json& script, std::vector<std::string> secrets,
           const std::filesystem::path& dir, const std::string& cert = {},
           const std::string& key = {})
      : record_(dir / ("record-" + std::to_string(counter_++) + ".jsonl")) {
    const auto script_file = dir / ("script-" + std::to_string(counter_) + ".json");
    std::ofstream(script_file) << script.dump();
    std::vector<std::string> args = {"python3", kReceiver.string(), "--script",
                                     script_file.string(), "--record", record_.string()};
    for (const auto& s : secrets) args.insert(args.end(), {"--secret", s});
    if (!cert.empty()) args.insert(args.end(), {"--cert", cert, "--key", key});
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    close(out[1]);
    // Wait for the condition: the line "PORT n" (or the end of its output).
    std::string line;
    char c = 0;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    if (line.rfind("PORT ", 0) != 0) {
      throw std::runtime_error("the receiver did not start: '" + line + "'");
    }
    port_ = std::stoi(line.substr(5));
  }
  ~Receiver() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& scheme = "http", const std::string& path = "/hook") const {
    return scheme + "://" + (scheme == "https" ? "localhost" : "127.0.0.1") + ":" +
           std::to_string(port_) + path;
  }
  // Every request so far, in order.
  std::vector<json> requests() const {
    std::vector<json> out;
    std::ifstream in(record_);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(json::parse(line));
    }
    return out;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path record_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class WebhookJobTest : public JobctlTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(apply_package(kPackage), "webhook");
    dir_ = std::filesystem::temp_directory_path() /
           ("webhook-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string endpoints_file(const json& endpoints) {
    const auto path = dir_ / "endpoints.json";
    std::ofstream(path) << json{{"endpoints", endpoints}}.dump(2);
    return path.string();
  }
  std::int64_t enqueue_webhook(const json& metadata, int max_retries = 3) {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = webhooks.enqueue(tx, {.metadata = metadata, .max_retries = max_retries});
    tx.commit();
    return id;
  }
  // A cron run of at most `limit` jobs: a job retried after a few seconds
  // is not run again by the same run however slow the machine is.
  ProcessResult run_webhook_jobs(const std::string& endpoints, std::vector<std::string> args = {},
                                 int limit = 1) {
    args.insert(args.begin(), {bin("run-webhook-jobs"), "--db", db.conninfo(), "--endpoints",
                               endpoints, "--limit", std::to_string(limit)});
    return run_program(args);
  }
  std::int64_t status_of(std::int64_t id) {
    return db.scalar("SELECT status FROM job WHERE id = $1", id);
  }
  std::string log_of(std::int64_t id) {
    return db.sql("SELECT log FROM job WHERE id = $1", id).at(0).text("log");
  }
  // Makes a job that waits for its retry ready at once.
  void make_ready(std::int64_t id) { db.sql("UPDATE job SET scheduled_start = NULL WHERE id = $1", id); }

  // A test CA and a certificate for localhost and 127.0.0.1 that it signed,
  // made with the openssl command line.
  struct Pki {
    std::string ca, cert, key;
  };
  Pki make_pki() {
    const auto d = dir_.string();
    const std::string script =
        "set -e; cd '" + d + "'\n"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "  -keyout ca.key -out ca.pem -days 2 -subj /CN=jobrunner-test-ca "
        "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n"
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "  -keyout server.key -out server.csr -subj /CN=localhost\n"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
        "extendedKeyUsage=serverAuth\\n' > ext.cnf\n"
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "  -out server.pem -days 2 -extfile ext.cnf\n";
    const auto r = run_program({"/bin/sh", "-c", script});
    EXPECT_EQ(r.exit_code, 0) << shown(r);
    return {d + "/ca.pem", d + "/server.pem", d + "/server.key"};
  }

  std::filesystem::path dir_;
  const pg::JobStore webhooks{wh::webhook_job_type(std::make_shared<wh::Endpoints>()).spec};
};

TEST_F(WebhookJobTest, its_package_registers_the_type_without_a_table_with_backoff_as_compiled) {
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto row = pg::find_registered_type(tx, "webhook");
  ASSERT_TRUE(row);
  EXPECT_FALSE(row->has_table());
  EXPECT_EQ(row->package, "webhook");
  const auto compiled = wh::webhook_job_type(std::make_shared<wh::Endpoints>()).spec;
  EXPECT_TRUE(spec_differences(compiled, row->spec).empty());
  EXPECT_EQ(row->spec.retry, compiled.retry);
  EXPECT_TRUE(row->spec.retry.backoff);
  EXPECT_EQ(row->spec.retry.max_retry_delay, Duration(1h));
  EXPECT_EQ(row->spec.default_max_retries, compiled.default_max_retries);
  EXPECT_FALSE(row->spec.one_pending_per_target);
  // The other types keep their fixed delay.
  const auto foo = pg::find_registered_type(tx, "foo");
  ASSERT_TRUE(foo);
  EXPECT_FALSE(foo->spec.retry.backoff);
}

TEST_F(WebhookJobTest, a_2xx_completes_the_job_with_a_signed_request_and_the_attempt_in_the_log) {
  Receiver server(json::array({{{"status", 200}, {"body", "{\"received\": true}"}, {"require_signature", true}}}),
                  {"s3cret"}, dir_);
  const auto endpoints = endpoints_file(
      {{"billing", {{"url", server.url()}, {"secret", "s3cret"}, {"headers", {{"X-Source", "tests"}}}}}});
  const auto id = enqueue_webhook({{"endpoint", "billing"}, {"body", {{"event", "paid"}, {"amount", 42}}}});
  const auto r = run_webhook_jobs(endpoints);
  ASSERT_EQ(r.exit_code, 0) << shown(r);
  EXPECT_EQ(status_of(id), kCompleted) << log_of(id);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1U);
  const auto& q = requests[0];
  EXPECT_EQ(q["method"], "POST");
  EXPECT_EQ(q["path"], "/hook");
  EXPECT_EQ(json::parse(q["body"].get<std::string>()), (json{{"event", "paid"}, {"amount", 42}}));
  EXPECT_EQ(q["headers"]["content-type"], "application/json");
  EXPECT_EQ(q["headers"]["x-source"], "tests");
  EXPECT_TRUE(q["signature"]["valid"].get<bool>()) << q.dump();
  EXPECT_EQ(q["signature"]["v1"].size(), 1U);
  EXPECT_EQ(q["headers"]["idempotency-key"].get<std::string>().rfind("job-" + std::to_string(id) + "-", 0), 0U);
  const auto log = log_of(id);
  EXPECT_TRUE(contains(log, "attempt 1: completed on attempt 1\nwebhook billing: POST answered 200 in "));
  EXPECT_TRUE(contains(log, "body: {\"received\": true}"));
}

TEST_F(WebhookJobTest, during_a_rotation_both_secrets_sign_and_a_receiver_knowing_either_accepts) {
  for (const std::string known : {"new", "old"}) {
    SCOPED_TRACE(known);
    Receiver server(json::array({{{"require_signature", true}}}), {known}, dir_);
    const auto endpoints =
        endpoints_file({{"b", {{"url", server.url()}, {"secrets", {"new", "old"}}}}});
    const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", json::array({1, 2})}});
    ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
    EXPECT_EQ(status_of(id), kCompleted) << log_of(id);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0]["signature"]["v1"].size(), 2U);
    EXPECT_TRUE(requests[0]["signature"]["valid"].get<bool>());
  }
}

TEST_F(WebhookJobTest, a_wrong_secret_is_refused_by_the_receiver_and_fails_the_job_as_a_user_error) {
  Receiver server(json::array({{{"require_signature", true}}}), {"the-real-one"}, dir_);
  const auto endpoints = endpoints_file({{"b", {{"url", server.url()}, {"secret", "a-wrong-one"}}}});
  const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", json::object()}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_TRUE(contains(log_of(id), "failed with a user error: webhook b: POST answered 401"));
  EXPECT_EQ(count("SELECT count(*) FROM error_report"), 0);
  ASSERT_EQ(server.requests().size(), 1U);
  EXPECT_FALSE(server.requests()[0]["signature"]["valid"].get<bool>());
}

TEST_F(WebhookJobTest, other_4xx_fail_as_user_errors_and_408_429_5xx_are_retried) {
  const std::vector<std::pair<int, std::int64_t>> cases = {
      {400, kFailed}, {404, kFailed}, {410, kFailed}, {422, kFailed},
      {408, kWaiting}, {429, kWaiting}, {500, kWaiting}, {502, kWaiting}, {503, kWaiting}};
  for (const auto& [status, expected] : cases) {
    SCOPED_TRACE(status);
    Receiver server(json::array({{{"status", status}, {"body", "status " + std::to_string(status)}}}),
                    {"s"}, dir_);
    const auto endpoints = endpoints_file({{"b", {{"url", server.url()}, {"secret", "s"}}}});
    const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", status}});
    ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
    EXPECT_EQ(status_of(id), expected) << log_of(id);
    EXPECT_TRUE(contains(log_of(id), "POST answered " + std::to_string(status)));
    EXPECT_TRUE(contains(log_of(id), "body: status " + std::to_string(status)));
    EXPECT_EQ(server.requests().size(), 1U);
    if (expected == kWaiting) {
      // Backoff: the first retry waits between 5s and 10s (half to all of 10s).
      EXPECT_EQ(count("SELECT count(*) FROM job WHERE id = " + std::to_string(id) +
                      " AND scheduled_start >= date_started + interval '5 seconds'"),
                1);
      EXPECT_TRUE(contains(log_of(id), "will be retried in "));
    }
  }
}

TEST_F(WebhookJobTest, retry_after_in_seconds_or_as_a_date_delays_the_retry_at_least_that_long) {
  Receiver server(json::array({{{"status", 503}, {"headers", {{"Retry-After", "3600"}}}},
                               {{"status", 429}, {"retry_after_date_in", 7200}}}),
                  {"s"}, dir_);
  const auto endpoints = endpoints_file({{"b", {{"url", server.url()}, {"secret", "s"}}}});
  const auto first = enqueue_webhook({{"endpoint", "b"}, {"body", 1}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  const auto second = enqueue_webhook({{"endpoint", "b"}, {"body", 2}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  EXPECT_EQ(status_of(first), kWaiting);
  EXPECT_EQ(status_of(second), kWaiting);
  // scheduled_start = the finish's now() + the delay, and the finish came
  // after the claim (date_started).
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE id = " + std::to_string(first) +
                  " AND scheduled_start >= date_started + interval '3600 seconds'"),
            1)
      << log_of(first);
  // The date has a resolution of a second, read on the receiver's clock.
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE id = " + std::to_string(second) +
                  " AND scheduled_start >= date_started + interval '7198 seconds'"),
            1)
      << log_of(second);
  EXPECT_TRUE(contains(log_of(first), "Retry-After 1h"));
}

TEST_F(WebhookJobTest, retry_after_crosses_from_an_isolated_child_to_the_decision) {
  Receiver server(json::array({{{"status", 503}, {"headers", {{"Retry-After", "3600"}}}}}), {"s"},
                  dir_);
  const auto endpoints = endpoints_file({{"b", {{"url", server.url()}, {"secret", "s"}}}});
  const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", 1}});
  const auto r = run_webhook_jobs(endpoints, {"--isolate"});
  ASSERT_EQ(r.exit_code, 0) << shown(r);
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE id = " + std::to_string(id) +
                  " AND scheduled_start >= date_started + interval '3600 seconds'"),
            1)
      << log_of(id);
}

TEST_F(WebhookJobTest, the_idempotency_key_stays_the_same_across_a_retry_and_the_signature_is_fresh) {
  Receiver server(json::array({{{"status", 503}}, {{"status", 200}}}), {"s"}, dir_);
  const auto endpoints = endpoints_file({{"b", {{"url", server.url()}, {"secret", "s"}}}});
  const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", {{"n", 1}}}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  ASSERT_EQ(status_of(id), kWaiting);
  make_ready(id);
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  EXPECT_EQ(status_of(id), kCompleted) << log_of(id);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0]["headers"]["idempotency-key"], requests[1]["headers"]["idempotency-key"]);
  EXPECT_EQ(requests[0]["body"], requests[1]["body"]);
  EXPECT_TRUE(requests[1]["signature"]["valid"].get<bool>());
  const auto log = log_of(id);
  EXPECT_TRUE(contains(log, "attempt 1: attempt 1 of 4 will be retried in "));
  EXPECT_TRUE(contains(log, "answered 503"));
  EXPECT_TRUE(contains(log, "attempt 2: completed on attempt 2\nwebhook b: POST answered 200"));
}

TEST_F(WebhookJobTest, a_key_from_the_metadata_is_sent_as_the_idempotency_key) {
  Receiver server(json::array({json::object()}), {"s"}, dir_);
  const auto endpoints = endpoints_file({{"b", {{"url", server.url()}, {"secret", "s"}}}});
  const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", 1}, {"idempotency_key", "evt_42"}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  EXPECT_EQ(status_of(id), kCompleted);
  ASSERT_EQ(server.requests().size(), 1U);
  EXPECT_EQ(server.requests()[0]["headers"]["idempotency-key"], "evt_42");
}

TEST_F(WebhookJobTest, a_redirect_is_not_followed_unless_the_endpoint_allows_it) {
  Receiver server(json::array({{{"status", 302}, {"headers", {{"Location", "/elsewhere"}}}},
                               {{"status", 200}}}),
                  {"s"}, dir_);
  auto endpoints = endpoints_file({{"b", {{"url", server.url()}, {"secret", "s"}}}});
  const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", 1}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_TRUE(contains(log_of(id), "answered 302"));
  EXPECT_TRUE(contains(log_of(id), "redirects are not followed"));
  ASSERT_EQ(server.requests().size(), 1U);  // nothing went to /elsewhere

  // With allow_redirects the redirect is followed, with the same method and body.
  Receiver follow(json::array({{{"status", 307}, {"headers", {{"Location", "/moved"}}}},
                               {{"status", 200}}}),
                  {"s"}, dir_);
  endpoints = endpoints_file(
      {{"b", {{"url", follow.url()}, {"secret", "s"}, {"allow_redirects", true}}}});
  const auto followed = enqueue_webhook({{"endpoint", "b"}, {"body", {{"k", "v"}}}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  EXPECT_EQ(status_of(followed), kCompleted) << log_of(followed);
  const auto requests = follow.requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[1]["path"], "/moved");
  EXPECT_EQ(requests[1]["method"], "POST");
  EXPECT_EQ(requests[1]["body"], requests[0]["body"]);
}

TEST_F(WebhookJobTest, a_slow_receiver_times_out_and_the_job_is_retried) {
  Receiver server(json::array({{{"hang", true}}}), {"s"}, dir_);
  const auto endpoints =
      endpoints_file({{"b", {{"url", server.url()}, {"secret", "s"}, {"timeout", "1s"}}}});
  const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", 1}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_TRUE(contains(log_of(id), "webhook b: POST timed out after"));
  EXPECT_EQ(server.requests().size(), 1U);
}

TEST_F(WebhookJobTest, a_refused_connection_is_retried) {
  // A port that was free a moment ago: nothing listens there.
  int port = 0;
  {
    Receiver gone(json::array({json::object()}), {"s"}, dir_);
    port = gone.port();
  }
  const auto endpoints = endpoints_file(
      {{"b", {{"url", "http://127.0.0.1:" + std::to_string(port) + "/"}, {"secret", "s"}}}});
  const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", 1}}, 0);
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  // max_retries 0: the retry error fails it at once, with an error report.
  EXPECT_EQ(status_of(id), kFailed);
  EXPECT_TRUE(contains(log_of(id), "connection failed"));
  EXPECT_EQ(count("SELECT count(*) FROM error_report WHERE variables->>'endpoint' = 'b'"), 1);
}

TEST_F(WebhookJobTest, an_unknown_endpoint_or_bad_metadata_is_a_user_error_and_nothing_is_sent) {
  Receiver server(json::array({json::object()}), {"s"}, dir_);
  const auto endpoints = endpoints_file({{"b", {{"url", server.url()}, {"secret", "s"}}}});
  const auto unknown = enqueue_webhook({{"endpoint", "https://evil.example/"}, {"body", 1}});
  const auto no_body = enqueue_webhook({{"endpoint", "b"}});
  const auto no_endpoint = enqueue_webhook({{"url", server.url()}, {"body", 1}});
  const auto extra_key = enqueue_webhook({{"endpoint", "b"}, {"body", 1}, {"url", "http://x/"}});
  const auto huge = enqueue_webhook({{"body", std::string(300000, 'B')}});
  const auto result = run_webhook_jobs(endpoints, {}, 5);
  ASSERT_EQ(result.exit_code, 0) << shown(result);
  for (const auto id : {unknown, no_body, no_endpoint, extra_key, huge}) {
    EXPECT_EQ(status_of(id), kFailed);
  }
  EXPECT_TRUE(contains(log_of(extra_key), "unknown key \"url\"")) << log_of(extra_key);
  // A message quotes the start of what was refused, not all of it.
  EXPECT_TRUE(contains(log_of(huge), "(300011 bytes)")) << log_of(huge).substr(0, 400);
  EXPECT_LT(log_of(huge).size(), 2000U);
  EXPECT_LT(result.err.size(), 20000U);
  EXPECT_TRUE(contains(log_of(unknown), "unknown endpoint 'https://evil.example/'; nothing was sent"));
  EXPECT_TRUE(contains(log_of(unknown), "names: b"));
  EXPECT_TRUE(contains(log_of(no_body), "no \"body\""));
  EXPECT_TRUE(contains(log_of(no_endpoint), "\"endpoint\""));
  EXPECT_TRUE(server.requests().empty());
  EXPECT_EQ(count("SELECT count(*) FROM error_report"), 0);
}

TEST_F(WebhookJobTest, https_is_verified_against_the_configured_ca_and_refused_without_it) {
  const auto pki = make_pki();
  Receiver server(json::array({{{"require_signature", true}}}), {"s"}, dir_, pki.cert, pki.key);
  auto endpoints = endpoints_file(
      {{"b", {{"url", server.url("https")}, {"secret", "s"}, {"ca_file", pki.ca}}}});
  const auto trusted = enqueue_webhook({{"endpoint", "b"}, {"body", "over tls"}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  EXPECT_EQ(status_of(trusted), kCompleted) << log_of(trusted);
  ASSERT_EQ(server.requests().size(), 1U);
  EXPECT_TRUE(server.requests()[0]["signature"]["valid"].get<bool>());

  // Without the CA the system's authorities do not know the certificate.
  endpoints = endpoints_file({{"b", {{"url", server.url("https")}, {"secret", "s"}}}});
  const auto refused = enqueue_webhook({{"endpoint", "b"}, {"body", "over tls"}});
  ASSERT_EQ(run_webhook_jobs(endpoints).exit_code, 0);
  EXPECT_EQ(status_of(refused), kWaiting);
  EXPECT_TRUE(contains(log_of(refused), "TLS failed")) << log_of(refused);
  EXPECT_EQ(server.requests().size(), 1U);  // nothing reached the receiver
}

TEST_F(WebhookJobTest, a_bad_endpoints_file_exits_78_naming_the_file_and_the_problem) {
  const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", 1}});
  const auto missing = run_webhook_jobs((dir_ / "nonexistent.json").string());
  EXPECT_EQ(missing.exit_code, kConfig) << shown(missing);
  EXPECT_TRUE(contains(missing.err, "nonexistent.json"));
  const auto path = dir_ / "bad.json";
  std::ofstream(path) << R"({"endpoints": {"b": {"url": "gopher://x/", "secret": "s"}}})";
  const auto bad = run_webhook_jobs(path.string());
  EXPECT_EQ(bad.exit_code, kConfig) << shown(bad);
  EXPECT_TRUE(contains(bad.err, path.string()));
  EXPECT_TRUE(contains(bad.err, "endpoint 'b'"));
  EXPECT_EQ(status_of(id), kWaiting);  // nothing was claimed
  EXPECT_EQ(count("SELECT attempt_count FROM job WHERE id = " + std::to_string(id)), 0);
}

TEST_F(WebhookJobTest, help_names_the_endpoints_option_and_its_default) {
  const auto r = run_program({bin("run-webhook-jobs"), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "--endpoints"));
  EXPECT_TRUE(contains(r.out, "/etc/jobrunner/endpoints.json"));
}

TEST_F(WebhookJobTest, the_runner_role_of_its_package_can_deliver_a_webhook) {
  const auto permissions = jobctl({"db", "permissions", "--migrations-dir", kPackage.string()});
  ASSERT_EQ(permissions.exit_code, 0) << shown(permissions);
  Receiver server(json::array({json::object()}), {"s"}, dir_);
  const auto endpoints = endpoints_file({{"b", {{"url", server.url()}, {"secret", "s"}}}});
  const auto id = enqueue_webhook({{"endpoint", "b"}, {"body", 1}});
  const auto r = run_program({bin("run-webhook-jobs"), "--db",
                              db.conninfo("jobrunner_webhook_runner"), "--endpoints", endpoints});
  ASSERT_EQ(r.exit_code, 0) << shown(r);
  EXPECT_EQ(status_of(id), kCompleted) << log_of(id);
  EXPECT_TRUE(contains(log_of(id), "answered 200"));
}

}  // namespace
}  // namespace jobrunner::jobctl_test
