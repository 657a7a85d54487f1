// MailJob (issue 12, item 3; jobs/mail/) and the notices of core patch 0016:
// the pure parts (addresses, header and body encodings, the message, how a
// relay's answer maps to an outcome, the relay file), then run-mail-jobs
// against a real SMTP relay on loopback (tests/servers/smtp_receiver.py,
// Debian's python3-aiosmtpd, started by each test on an ephemeral port; it
// stores each message before it answers 250, with the message as Python's
// email package reads it), with STARTTLS from a test CA and AUTH; then the
// notices that user errors and error reports enqueue in the transaction
// that records them. No timing assertion: the relay's record and the jobs'
// rows are read after the runner exited.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobctl_fixture.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/registry.hpp"
#include "loopback_server.hpp"
#include "mail/mail_job.hpp"
#include "mail/message.hpp"
#include "mail/relay.hpp"

namespace jobrunner::jobctl_test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace ml = jobrunner::mail;

constexpr int kConfig = 78;
const std::filesystem::path kPackage = JOBRUNNER_MAIL_PACKAGE_DIR;
const std::filesystem::path kWebhookPackage = JOBRUNNER_WEBHOOK_PACKAGE_DIR;
const std::filesystem::path kRelayServer = JOBRUNNER_SMTP_RECEIVER;

// ---- Pure parts -------------------------------------------------------------

TEST(MailAddress, accepts_plain_addresses_only) {
  for (const char* ok : {"a@example.com", "first.last+tag@mail.example.org", "x@localhost",
                         "o'brien@example.ie", "a_b-c@x-y.example"}) {
    EXPECT_TRUE(ml::is_address(ok)) << ok;
  }
  for (const char* bad : {"", "a", "@example.com", "a@", "a@@example.com", "a b@example.com",
                          "A <a@example.com>", "a@example.com\r\nBcc: x@evil.example",
                          "a@example.com,b@example.com", ".a@example.com", "a.@example.com",
                          "a..b@example.com", "a@-example.com", "a@example..com",
                          "\"quoted\"@example.com", "a@exa_mple.com"}) {
    EXPECT_FALSE(ml::is_address(bad)) << bad;
  }
  EXPECT_FALSE(ml::is_address(std::string(250, 'a') + "@example.com"));
}

TEST(MailAddress, the_sql_rule_agrees_with_the_cpp_one) {
  testing::TestDatabase db;
  for (const std::string a : {"a@example.com", "o'brien@example.ie", "a b@example.com",
                              "a..b@example.com", "a@example.com\nBcc: x@y.z", "A <a@b.c>"}) {
    EXPECT_EQ(db.scalar("SELECT jobrunner_is_mail_address($1)::int", a), ml::is_address(a) ? 1 : 0)
        << a;
  }
}

TEST(MailHeader, ascii_stays_as_it_is_and_the_rest_becomes_encoded_words) {
  EXPECT_EQ(ml::encode_header_text("Report ready: 3 rows"), "Report ready: 3 rows");
  EXPECT_EQ(ml::encode_header_text("\xC3\x89"), "=?UTF-8?B?w4k=?=");  // É
  // A long subject of three-byte characters: several words, each at most 75
  // characters, folded, none splitting a character (each decodes alone).
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "\xE2\x9C\x93";  // ✓
  const auto encoded = ml::encode_header_text(long_text);
  std::size_t words = 0;
  std::size_t start = 0;
  for (;;) {
    const auto end = encoded.find("\r\n ", start);
    const auto word = encoded.substr(start, end == std::string::npos ? end : end - start);
    EXPECT_LE(word.size(), 75U) << word;
    EXPECT_EQ(word.rfind("=?UTF-8?B?", 0), 0U) << word;
    ++words;
    if (end == std::string::npos) break;
    start = end + 3;
  }
  EXPECT_GE(words, 3U);
}

TEST(MailBody, ascii_is_7bit_and_the_rest_quoted_printable_with_crlf_line_ends) {
  const auto plain = ml::encode_body("line one\nline two\r\n.dot\n");
  EXPECT_EQ(plain.encoding, "7bit");
  EXPECT_EQ(plain.text, "line one\r\nline two\r\n.dot\r\n");
  const auto utf8 = ml::encode_body("caf\xC3\xA9 = 1 \n");
  EXPECT_EQ(utf8.encoding, "quoted-printable");
  EXPECT_EQ(utf8.text, "caf=C3=A9 =3D 1=20\r\n");
  const auto long_line = ml::encode_body(std::string(1200, 'x'));
  EXPECT_EQ(long_line.encoding, "quoted-printable");
  for (const auto& line : lines_of(long_line.text)) EXPECT_LE(line.size(), 77U);  // 76 + CR
}

TEST(MailMessage, has_every_header_and_only_crlf_line_ends) {
  ml::Message m{.to = {"a@example.com", "b@example.com"}, .cc = {"c@example.com"},
                .reply_to = "r@example.com", .subject = "Hello", .body = "Hi.\nBye.\n"};
  const auto at = std::chrono::system_clock::from_time_t(1796169965);  // Wed, 02 Dec 2026 00:06:05
  const auto text = ml::compose(m, "jobs@example.com", "<id@example.com>", at);
  for (const char* header :
       {"Date: Wed, 02 Dec 2026 00:06:05 +0000\r\n", "From: jobs@example.com\r\n",
        "To: a@example.com,\r\n b@example.com\r\n", "Cc: c@example.com\r\n",
        "Reply-To: r@example.com\r\n", "Subject: Hello\r\n", "Message-ID: <id@example.com>\r\n",
        "MIME-Version: 1.0\r\n", "Content-Type: text/plain; charset=utf-8\r\n",
        "Content-Transfer-Encoding: 7bit\r\n\r\nHi.\r\nBye.\r\n"}) {
    EXPECT_TRUE(contains(text, header));
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      EXPECT_EQ(text.at(i - 1), '\r') << i;
    }
  }
}

TEST(MailMessageId, is_derived_from_the_job_and_the_same_on_every_attempt) {
  const auto created = std::chrono::system_clock::from_time_t(1700000000);
  EXPECT_EQ(ml::message_id_of(7, created, "example.com"),
            "<jobrunner-mail-7-1700000000000000@example.com>");
  EXPECT_EQ(ml::message_id_of(7, created, "example.com"), ml::message_id_of(7, created, "example.com"));
}

TEST(MailMetadata, refuses_what_cannot_be_sent_naming_the_field) {
  const json ok = {{"to", "a@example.com"}, {"subject", "s"}, {"body", "b"}};
  EXPECT_NO_THROW((void)ml::message_of(ok));
  const std::vector<std::pair<json, std::string>> cases = {
      {json::array(), "must be an object"},
      {{{"subject", "s"}, {"body", "b"}}, "no \"to\""},
      {{{"to", "a@example.com"}, {"body", "b"}}, "no \"subject\""},
      {{{"to", "a@example.com"}, {"subject", "s"}}, "no \"body\""},
      {{{"to", "not an address"}, {"subject", "s"}, {"body", "b"}}, "not a plain mail address"},
      {{{"to", "a@example.com\r\nBcc: x@evil.example"}, {"subject", "s"}, {"body", "b"}}, "header injection"},
      {{{"to", "a@example.com"}, {"subject", "s\r\nBcc: x@evil.example"}, {"body", "b"}}, "header injection"},
      {{{"to", "a@example.com"}, {"subject", "s\nX"}, {"body", "b"}}, "header injection"},
      {{{"to", "a@example.com"}, {"subject", "s\x01"}, {"body", "b"}}, "control character"},
      {{{"to", json::array()}, {"subject", "s"}, {"body", "b"}}, "\"to\" is empty"},
      {{{"to", 5}, {"subject", "s"}, {"body", "b"}}, "as strings"},
      {{{"to", "a@example.com"}, {"subject", 1}, {"body", "b"}}, "\"subject\" must be a string"},
      {{{"to", "a@example.com"}, {"cc", "bad@"}, {"subject", "s"}, {"body", "b"}}, "\"cc\""},
      {{{"to", "a@example.com"}, {"reply_to", "x\ny@z.org"}, {"subject", "s"}, {"body", "b"}}, "header injection"},
      {{{"to", "a@example.com"}, {"subject", "s"}, {"body", "b"}, {"bcc", "x@y.z"}}, "unknown field 'bcc'"},
      {{{"to", "a@example.com"}, {"subject", "s"}, {"body", std::string("a\0b", 3)}}, "NUL"},
      {{{"to", "a@example.com"}, {"subject", std::string(1000, 's')}, {"body", "b"}}, "at most 900"},
  };
  for (const auto& [meta, message] : cases) {
    SCOPED_TRACE(meta.dump());
    try {
      (void)ml::message_of(meta);
      ADD_FAILURE() << "accepted";
    } catch (const UserError& e) {
      EXPECT_TRUE(contains(e.what(), message));
    }
  }
}

TEST(MailJudge, maps_every_answer_to_its_outcome) {
  using K = ml::Verdict::Kind;
  using F = ml::SmtpResult::Failure;
  auto result = [](F f, long code = 0, std::string command = {}) {
    ml::SmtpResult r;
    r.failure = f;
    r.code = code;
    r.command = std::move(command);
    r.reply = std::to_string(code) + " text";
    return r;
  };
  EXPECT_EQ(ml::judge(result(F::none, 250), "m").kind, K::completed);
  EXPECT_TRUE(contains(ml::judge(result(F::none, 250), "m").line, "relay answered: '250 text'"));
  EXPECT_EQ(ml::judge(result(F::connect), "m").kind, K::retry);
  EXPECT_EQ(ml::judge(result(F::timeout), "m").kind, K::retry);
  EXPECT_EQ(ml::judge(result(F::reply, 451, "RCPT"), "m").kind, K::retry);
  EXPECT_EQ(ml::judge(result(F::reply, 421, "MAIL"), "m").kind, K::retry);
  EXPECT_EQ(ml::judge(result(F::reply, 550, "RCPT"), "m").kind, K::user_error);
  EXPECT_EQ(ml::judge(result(F::reply, 554, "the message"), "m").kind, K::user_error);
  EXPECT_EQ(ml::judge(result(F::reply, 553, "MAIL"), "m").kind, K::unexpected);
  EXPECT_EQ(ml::judge(result(F::reply, 554, "the connection"), "m").kind, K::unexpected);
  EXPECT_EQ(ml::judge(result(F::reply, 421, "the connection"), "m").kind, K::retry);
  EXPECT_EQ(ml::judge(result(F::login, 535), "m").kind, K::unexpected);
  EXPECT_EQ(ml::judge(result(F::tls), "m").kind, K::unexpected);
  EXPECT_EQ(ml::judge(result(F::other), "m").kind, K::unexpected);
}

TEST(MailRelay, reads_a_complete_file_with_defaults) {
  const auto r = ml::parse_relay(R"({"url": "smtp://mail.example.com:587",
      "from": "jobs@example.com", "starttls": true, "username": "u", "password": "p",
      "timeout": "10s", "message_id_domain": "ids.example.com"})",
                                 "test");
  EXPECT_EQ(r.url, "smtp://mail.example.com:587");
  EXPECT_EQ(r.from, "jobs@example.com");
  EXPECT_TRUE(r.starttls);
  EXPECT_EQ(r.username, "u");
  EXPECT_EQ(r.password, "p");
  EXPECT_EQ(r.timeout, Duration(10s));
  EXPECT_EQ(r.message_id_domain, "ids.example.com");
  const auto d = ml::parse_relay(R"({"url": "smtps://mail.example.com", "from": "a@b.example"})", "t");
  EXPECT_FALSE(d.starttls);
  EXPECT_TRUE(d.username.empty());
  EXPECT_EQ(d.timeout, Duration(30s));
  EXPECT_EQ(d.message_id_domain, "b.example");
}

TEST(MailRelay, refuses_what_cannot_be_used_naming_the_file_and_the_field) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {R"([])", "expected an object"},
      {R"({"from": "a@b.c"})", "no \"url\""},
      {R"({"url": "http://x/", "from": "a@b.c"})", "\"url\" must be smtp://"},
      {R"({"url": "smtp://x"})", "no \"from\""},
      {R"({"url": "smtp://x", "from": "Jobs <a@b.c>"})", "\"from\" must be a plain address"},
      {R"({"url": "smtp://x", "from": "a@b.c", "starttls": "yes"})", "\"starttls\" must be true or false"},
      {R"({"url": "smtps://x", "from": "a@b.c", "starttls": true})", "\"starttls\" applies to smtp://"},
      {R"({"url": "smtp://x", "from": "a@b.c", "username": "u"})", "\"username\" needs"},
      {R"({"url": "smtp://x", "from": "a@b.c", "password": "p"})", "without \"username\""},
      {R"({"url": "smtp://x", "from": "a@b.c", "username": "u", "password": "p"})", "in clear"},
      {R"({"url": "smtps://x", "from": "a@b.c", "username": "u", "password": "p", "password_file": "f"})", "not both"},
      {R"({"url": "smtps://x", "from": "a@b.c", "username": "u", "password_file": "/nonexistent/p"})", "\"password_file\""},
      {R"({"url": "smtp://x", "from": "a@b.c", "timeout": "0s"})", "\"timeout\" must be from 1s"},
      {R"({"url": "smtp://x", "from": "a@b.c", "message_id_domain": "a b"})", "\"message_id_domain\""},
      {R"({"url": "smtp://x", "from": "a@b.c", "ca_file": "/nonexistent/ca.pem"})", "cannot read CA file"},
      {R"({"url": "smtp://x", "from": "a@b.c", "start_tls": true})", "unknown field 'start_tls'"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    try {
      (void)ml::parse_relay(text, "relay file 'm.json'");
      ADD_FAILURE() << "accepted";
    } catch (const ConfigError& e) {
      EXPECT_TRUE(contains(e.what(), "relay file 'm.json'"));
      EXPECT_TRUE(contains(e.what(), message));
    }
  }
}

TEST(MailRelay, a_file_holding_a_password_must_not_be_readable_by_others) {
  const auto dir = std::filesystem::temp_directory_path() / ("mail-relay-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "mail.json";
  std::ofstream(file) << R"({"url": "smtps://x", "from": "a@b.c", "username": "u", "password": "p"})";
  chmod(file.c_str(), 0644);
  try {
    (void)ml::load_relay(file);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("holds a password and others can access it"), std::string::npos) << what;
    EXPECT_EQ(what.find(file.string()), what.rfind(file.string())) << "named once: " << what;
  }
  chmod(file.c_str(), 0640);
  EXPECT_EQ(ml::load_relay(file).warnings.size(), 1U);
  chmod(file.c_str(), 0600);
  EXPECT_TRUE(ml::load_relay(file).warnings.empty());
  // A password file: the same rule for it; the relay file itself may be
  // readable then.
  std::ofstream(dir / "pw") << "secret\n";
  chmod((dir / "pw").c_str(), 0604);
  std::ofstream(file) << R"({"url": "smtps://x", "from": "a@b.c", "username": "u", "password_file": "pw"})";
  chmod(file.c_str(), 0644);
  EXPECT_THROW((void)ml::load_relay(file), ConfigError);
  chmod((dir / "pw").c_str(), 0600);
  EXPECT_EQ(ml::load_relay(file).password, "secret");
  std::filesystem::remove_all(dir);
}

// ---- Against a real relay ---------------------------------------------------

// tests/servers/smtp_receiver.py on loopback; each message it accepted is a
// JSON record (envelope and parsed message) in its directory.
class Relay {
 public:
  explicit Relay(const std::filesystem::path& dir, std::vector<std::string> options = {},
                 int port = 0)
      : dir_(dir / ("relay-" + std::to_string(counter_++))),
        server_(arguments(dir_, std::move(options), port)) {}

  int port() const { return server_.port(); }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port()); }
  void stop() { server_.stop(); }
  // Every message accepted so far, in order.
  std::vector<json> messages() const {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      if (e.path().extension() == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<json> out;
    for (const auto& f : files) out.push_back(json::parse(std::ifstream(f)));
    return out;
  }

 private:
  static std::vector<std::string> arguments(const std::filesystem::path& dir,
                                            std::vector<std::string> options, int port) {
    std::filesystem::create_directories(dir);
    std::vector<std::string> args = {"/usr/bin/python3", kRelayServer.string(), "--dir",
                                     dir.string(), "--port", std::to_string(port)};
    args.insert(args.end(), options.begin(), options.end());
    return args;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  testing::LoopbackServer server_;
};

class MailJobTest : public JobctlTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(apply_package(kPackage), "mail");
    dir_ = std::filesystem::temp_directory_path() /
           ("mail-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A relay file (mode 0600) for `url`, with `extra` fields.
  std::string relay_file(const std::string& url, const json& extra = json::object()) {
    json doc = {{"url", url}, {"from", "jobs@example.com"}, {"timeout", "10s"}};
    doc.update(extra);
    const auto path = dir_ / "mail.json";
    std::ofstream(path) << doc.dump(2);
    chmod(path.c_str(), 0600);
    return path.string();
  }
  std::int64_t enqueue_mail(const json& metadata, int max_retries = 3) {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto id = mails.enqueue(tx, {.metadata = metadata, .max_retries = max_retries});
    tx.commit();
    return id;
  }
  // A cron run of at most `limit` jobs.
  ProcessResult run_mail_jobs(const std::string& relay, std::vector<std::string> args = {},
                              int limit = 1) {
    args.insert(args.begin(), {bin("run-mail-jobs"), "--db", db.conninfo(), "--relay", relay,
                               "--limit", std::to_string(limit)});
    return run_program(args);
  }
  std::string log_of(std::int64_t id) {
    return db.sql("SELECT log FROM job WHERE id = $1", id).at(0).text("log");
  }
  std::string message_id_of(std::int64_t id, const std::string& domain = "example.com") {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto job = mails.get(tx, id);
    return ml::message_id_of(job.id, job.date_created, domain);
  }
  std::int64_t mail_jobs() { return count("SELECT count(*) FROM job WHERE job_type = 'mail'"); }
  json metadata_of_mail(const std::string& where = "true") {
    return json::parse(db.sql("SELECT json_data::text AS m FROM job WHERE job_type = 'mail' AND " +
                              where + " ORDER BY id LIMIT 1")
                           .at(0)
                           .text("m"));
  }
  // A password file of mode 0600.
  std::string password_file(const std::string& password) {
    const auto path = dir_ / "mail.password";
    std::ofstream(path) << password << "\n";
    chmod(path.c_str(), 0600);
    return path.string();
  }

  std::filesystem::path dir_;
  const pg::JobStore mails{ml::mail_job_type(std::make_shared<ml::Relay>()).spec};
};

TEST_F(MailJobTest, its_package_registers_the_type_without_a_table_with_backoff_as_compiled) {
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto row = pg::find_registered_type(tx, "mail");
  ASSERT_TRUE(row);
  EXPECT_FALSE(row->has_table());
  EXPECT_EQ(row->package, "mail");
  const auto compiled = ml::mail_job_type(std::make_shared<ml::Relay>()).spec;
  EXPECT_TRUE(spec_differences(compiled, row->spec).empty());
  EXPECT_EQ(row->spec.retry, compiled.retry);
  EXPECT_TRUE(row->spec.retry.backoff);
  EXPECT_EQ(row->spec.default_max_retries, compiled.default_max_retries);
  EXPECT_FALSE(row->spec.one_pending_per_target);
}

TEST_F(MailJobTest, a_mail_is_delivered_with_its_recipient_subject_and_message_id) {
  Relay relay(dir_);
  const auto id = enqueue_mail({{"to", "alice@example.org"},
                                {"subject", "Your report is ready"},
                                {"body", "Hello Alice,\n.this line starts with a dot\nBye.\n"}});
  const auto r = run_mail_jobs(relay_file(relay.url()));
  ASSERT_EQ(r.exit_code, 0) << shown(r);
  EXPECT_EQ(status_of(id), kCompleted) << log_of(id);
  const auto messages = relay.messages();
  ASSERT_EQ(messages.size(), 1U);
  const auto& m = messages[0];
  EXPECT_EQ(m["mail_from"], "jobs@example.com");
  EXPECT_EQ(m["rcpt_tos"], json::array({"alice@example.org"}));
  EXPECT_FALSE(m["bare_lf"].get<bool>());
  const auto& msg = m["message"];
  EXPECT_EQ(msg["subject"], "Your report is ready");
  EXPECT_EQ(msg["from"], "jobs@example.com");
  EXPECT_EQ(msg["to"], "alice@example.org");
  EXPECT_EQ(msg["message_id"], message_id_of(id));
  EXPECT_EQ(msg["message_id"].get<std::string>().rfind("<jobrunner-mail-" + std::to_string(id) + "-", 0), 0U);
  EXPECT_EQ(msg["mime_version"], "1.0");
  EXPECT_EQ(msg["content_type"], "text/plain");
  EXPECT_EQ(msg["charset"], "utf-8");
  EXPECT_FALSE(msg["date"].is_null());
  // libcurl dot-stuffed the line that starts with a dot; the relay removed it.
  EXPECT_EQ(msg["body"], "Hello Alice,\n.this line starts with a dot\nBye.\n");
  const auto log = log_of(id);
  EXPECT_TRUE(contains(log, "attempt 1: "));
  EXPECT_TRUE(contains(log, "to alice@example.org: relay answered: '250 2.0.0 OK queued as 001'"));
  EXPECT_TRUE(contains(log, "attempt 1: completed on attempt 1\nmail <jobrunner-mail-")) << log;
  const auto result = json::parse(db.sql("SELECT result::text AS r FROM job WHERE id = $1", id).at(0).text("r"));
  EXPECT_EQ(result["message_id"], message_id_of(id));
  EXPECT_EQ(result["relay_answer"], "250 2.0.0 OK queued as 001");
}

TEST_F(MailJobTest, a_non_ascii_subject_and_body_arrive_intact_to_every_recipient) {
  Relay relay(dir_);
  const std::string subject = "\xC3\x89" "chec de l'import \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC "
                              "\xE2\x9C\x93 and a long tail to need more than one encoded word";
  const std::string body = "Caf\xC3\xA9 = cr\xC3\xA8me\n" + std::string(1100, 'x') + "\n";
  const auto id = enqueue_mail({{"to", json::array({"a@example.org", "b@example.org"})},
                                {"cc", "c@example.org"},
                                {"reply_to", "support@example.com"},
                                {"subject", subject},
                                {"body", body}});
  ASSERT_EQ(run_mail_jobs(relay_file(relay.url())).exit_code, 0);
  EXPECT_EQ(status_of(id), kCompleted) << log_of(id);
  const auto messages = relay.messages();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0]["rcpt_tos"], json::array({"a@example.org", "b@example.org", "c@example.org"}));
  const auto& msg = messages[0]["message"];
  EXPECT_EQ(msg["subject"], subject);
  EXPECT_EQ(msg["body"], body);
  EXPECT_EQ(msg["transfer_encoding"], "quoted-printable");
  EXPECT_EQ(msg["to"], "a@example.org, b@example.org");
  EXPECT_EQ(msg["cc"], "c@example.org");
  EXPECT_EQ(msg["reply_to"], "support@example.com");
}

TEST_F(MailJobTest, starttls_and_auth_deliver_over_tls_and_a_wrong_password_or_ca_files_a_report) {
  const auto pki = testing::make_test_pki(dir_);
  Relay relay(dir_, {"--cert", pki.cert, "--key", pki.key, "--auth", "jobrunner:s3cret"});
  const auto url = "smtp://localhost:" + std::to_string(relay.port());
  const auto good = relay_file(url, {{"starttls", true}, {"ca_file", pki.ca},
                                     {"username", "jobrunner"}, {"password_file", password_file("s3cret")}});
  const auto id = enqueue_mail({{"to", "a@example.org"}, {"subject", "over TLS"}, {"body", "b"}});
  auto r = run_mail_jobs(good);
  ASSERT_EQ(r.exit_code, 0) << shown(r);
  EXPECT_EQ(status_of(id), kCompleted) << log_of(id);
  ASSERT_EQ(relay.messages().size(), 1U);
  EXPECT_TRUE(relay.messages()[0]["tls"].get<bool>());
  EXPECT_EQ(relay.messages()[0]["auth"], "jobrunner");

  // A wrong password: the relay's configuration is wrong, not the job.
  const auto wrong = relay_file(url, {{"starttls", true}, {"ca_file", pki.ca},
                                      {"username", "jobrunner"}, {"password", "nope"}});
  const auto refused = enqueue_mail({{"to", "a@example.org"}, {"subject", "s"}, {"body", "b"}});
  ASSERT_EQ(run_mail_jobs(wrong).exit_code, 0);
  EXPECT_EQ(status_of(refused), kFailed);
  EXPECT_TRUE(contains(log_of(refused), "the relay refused the login")) << log_of(refused);
  EXPECT_EQ(count("SELECT count(*) FROM error_report WHERE job = " + std::to_string(refused)), 1);

  // Without the CA the certificate is not trusted: nothing is sent.
  const auto untrusted = relay_file(url, {{"starttls", true}, {"username", "jobrunner"},
                                          {"password_file", password_file("s3cret")}});
  const auto tls = enqueue_mail({{"to", "a@example.org"}, {"subject", "s"}, {"body", "b"}});
  ASSERT_EQ(run_mail_jobs(untrusted).exit_code, 0);
  EXPECT_EQ(status_of(tls), kFailed);
  EXPECT_TRUE(contains(log_of(tls), "TLS failed")) << log_of(tls);
  EXPECT_EQ(count("SELECT count(*) FROM error_report WHERE job = " + std::to_string(tls)), 1);
  EXPECT_EQ(relay.messages().size(), 1U);
}

TEST_F(MailJobTest, bad_metadata_is_a_user_error_and_nothing_is_sent) {
  Relay relay(dir_);
  const auto injected_subject = enqueue_mail(
      {{"to", "a@example.org"}, {"subject", "hi\r\nBcc: victim@example.net"}, {"body", "b"}});
  const auto injected_to = enqueue_mail(
      {{"to", "a@example.org\r\nBcc: victim@example.net"}, {"subject", "s"}, {"body", "b"}});
  const auto bad_address = enqueue_mail({{"to", "not-an-address"}, {"subject", "s"}, {"body", "b"}});
  const auto no_body = enqueue_mail({{"to", "a@example.org"}, {"subject", "s"}});
  ASSERT_EQ(run_mail_jobs(relay_file(relay.url()), {}, 4).exit_code, 0);
  for (const auto id : {injected_subject, injected_to, bad_address, no_body}) {
    EXPECT_EQ(status_of(id), kFailed) << log_of(id);
    EXPECT_TRUE(contains(log_of(id), "failed with a user error: ")) << log_of(id);
  }
  EXPECT_TRUE(contains(log_of(injected_subject), "\"subject\" holds a line break (a header injection)"));
  EXPECT_TRUE(contains(log_of(injected_to), "\"to\" holds a line break (a header injection)"));
  EXPECT_TRUE(contains(log_of(bad_address), "'not-an-address' is not a plain mail address"));
  EXPECT_TRUE(contains(log_of(no_body), "no \"body\""));
  EXPECT_TRUE(relay.messages().empty());
  EXPECT_EQ(count("SELECT count(*) FROM error_report"), 0);
}

TEST_F(MailJobTest, a_5xx_recipient_is_a_user_error_and_a_4xx_one_a_retry) {
  Relay relay(dir_, {"--reject", "nobody@example.org", "--tempfail", "later@example.org"});
  const auto relay_path = relay_file(relay.url());
  const auto rejected = enqueue_mail(
      {{"to", json::array({"a@example.org", "nobody@example.org"})}, {"subject", "s"}, {"body", "b"}});
  const auto deferred = enqueue_mail({{"to", "later@example.org"}, {"subject", "s"}, {"body", "b"}});
  ASSERT_EQ(run_mail_jobs(relay_path, {}, 2).exit_code, 0);
  EXPECT_EQ(status_of(rejected), kFailed);
  EXPECT_TRUE(contains(log_of(rejected), "relay refused RCPT with 550"));
  EXPECT_TRUE(contains(log_of(rejected), "no such user"));
  EXPECT_EQ(status_of(deferred), kWaiting);
  EXPECT_TRUE(contains(log_of(deferred), "relay refused RCPT with 451")) << log_of(deferred);
  EXPECT_TRUE(contains(log_of(deferred), "will be retried in "));
  // Nothing was delivered: a refused recipient ends the transaction.
  EXPECT_TRUE(relay.messages().empty());
  EXPECT_EQ(count("SELECT count(*) FROM error_report"), 0);
}

TEST_F(MailJobTest, a_relay_that_is_down_means_a_retry_and_once_it_is_up_one_delivery) {
  // A port that was free a moment ago: nothing listens there.
  int port = 0;
  {
    Relay gone(dir_);
    port = gone.port();
  }
  const auto relay_path = relay_file("smtp://127.0.0.1:" + std::to_string(port));
  const auto id = enqueue_mail({{"to", "a@example.org"}, {"subject", "eventually"}, {"body", "b"}});
  // --retry-delay 0s: the retry is ready at once, so the next run takes it.
  ASSERT_EQ(run_mail_jobs(relay_path, {"--retry-delay", "0s"}).exit_code, 0);
  EXPECT_EQ(status_of(id), kWaiting);
  EXPECT_TRUE(contains(log_of(id), "connection failed")) << log_of(id);

  Relay relay(dir_, {}, port);
  ASSERT_EQ(run_mail_jobs(relay_path, {"--retry-delay", "0s"}).exit_code, 0);
  EXPECT_EQ(status_of(id), kCompleted) << log_of(id);
  // Once more: nothing left to send.
  ASSERT_EQ(run_mail_jobs(relay_path, {"--retry-delay", "0s"}).exit_code, 0);
  const auto messages = relay.messages();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0]["message"]["message_id"], message_id_of(id));
  EXPECT_EQ(count("SELECT attempt_count FROM job WHERE id = " + std::to_string(id)), 2);
}

TEST_F(MailJobTest, a_bad_relay_file_exits_78_naming_the_file_and_the_field) {
  const auto id = enqueue_mail({{"to", "a@example.org"}, {"subject", "s"}, {"body", "b"}});
  const auto missing = run_mail_jobs((dir_ / "nonexistent.json").string());
  EXPECT_EQ(missing.exit_code, kConfig) << shown(missing);
  EXPECT_TRUE(contains(missing.err, "nonexistent.json"));
  const auto bad = relay_file("gopher://x/");
  const auto r = run_mail_jobs(bad);
  EXPECT_EQ(r.exit_code, kConfig) << shown(r);
  EXPECT_TRUE(contains(r.err, bad));
  EXPECT_TRUE(contains(r.err, "\"url\""));
  // A password that others can read.
  const auto open = relay_file("smtps://127.0.0.1:1", {{"username", "u"}, {"password", "p"}});
  chmod(open.c_str(), 0644);
  const auto readable = run_mail_jobs(open);
  EXPECT_EQ(readable.exit_code, kConfig) << shown(readable);
  EXPECT_TRUE(contains(readable.err, "chmod 0600"));
  EXPECT_EQ(status_of(id), kWaiting);  // nothing was claimed
  EXPECT_EQ(count("SELECT attempt_count FROM job WHERE id = " + std::to_string(id)), 0);
}

TEST_F(MailJobTest, help_names_the_relay_option_and_its_default) {
  const auto r = run_program({bin("run-mail-jobs"), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "--relay"));
  EXPECT_TRUE(contains(r.out, "/etc/jobrunner/mail.json"));
}

TEST_F(MailJobTest, the_runner_role_of_its_package_can_send_a_mail) {
  const auto permissions = jobctl({"db", "permissions", "--migrations-dir", kPackage.string()});
  ASSERT_EQ(permissions.exit_code, 0) << shown(permissions);
  Relay relay(dir_);
  const auto id = enqueue_mail({{"to", "a@example.org"}, {"subject", "s"}, {"body", "b"}});
  const auto r = run_program({bin("run-mail-jobs"), "--db", db.conninfo("jobrunner_mail_runner"),
                              "--relay", relay_file(relay.url())});
  ASSERT_EQ(r.exit_code, 0) << shown(r);
  EXPECT_EQ(status_of(id), kCompleted) << log_of(id);
  EXPECT_EQ(relay.messages().size(), 1U);
}

// ---- Notices (core patch 0016) ---------------------------------------------

TEST_F(MailJobTest, a_user_error_with_an_address_requester_enqueues_one_mail_that_arrives) {
  const auto id = enqueue({{"outcome", "user_error"}}, "alice@example.org");
  const auto foo = count("SELECT foo FROM foojob WHERE job = " + std::to_string(id));
  // As FooJob's runner role, which has no grant on the mail type: the
  // trigger enqueues with the schema owner's rights.
  const auto permissions = jobctl({"db", "permissions"});
  ASSERT_EQ(permissions.exit_code, 0) << shown(permissions);
  const auto r = run_foo_jobs({}, "jobrunner_foo_runner");
  ASSERT_EQ(r.exit_code, 0) << shown(r);
  ASSERT_EQ(status_of(id), kFailed);
  EXPECT_EQ(count("SELECT count(*) FROM job_notification WHERE job = " + std::to_string(id)), 1);
  ASSERT_EQ(mail_jobs(), 1);
  const auto meta = metadata_of_mail();
  const auto label = "FooJob " + std::to_string(id) + " (foo " + std::to_string(foo) + ")";
  EXPECT_EQ(meta["to"], "alice@example.org");
  EXPECT_EQ(meta["subject"], "jobrunner: " + label + " failed");
  EXPECT_TRUE(contains(meta["body"], "the following operation: " + label));
  EXPECT_TRUE(contains(meta["body"], "requested by alice@example.org"));
  const auto message = db.sql("SELECT body FROM job_notification WHERE job = $1", id).at(0).text("body");
  EXPECT_TRUE(contains(meta["body"], message));
  EXPECT_EQ(meta["notice"]["kind"], "user_error");
  EXPECT_EQ(meta["notice"]["job"], id);
  // The notice has no requester (its own failure notifies nobody).
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE job_type = 'mail' AND requester IS NULL"), 1);

  Relay relay(dir_);
  ASSERT_EQ(run_mail_jobs(relay_file(relay.url())).exit_code, 0);
  const auto messages = relay.messages();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0]["rcpt_tos"], json::array({"alice@example.org"}));
  EXPECT_EQ(messages[0]["message"]["subject"], "jobrunner: " + label + " failed");
  EXPECT_TRUE(contains(messages[0]["message"]["body"], message));
}

TEST_F(MailJobTest, no_mail_without_an_address_requester_or_without_the_mail_type) {
  const auto nobody = enqueue({{"outcome", "user_error"}});
  const auto name = enqueue({{"outcome", "user_error"}}, "alice (ops)");
  ASSERT_EQ(run_foo_jobs().exit_code, 0);
  EXPECT_EQ(status_of(nobody), kFailed);
  EXPECT_EQ(status_of(name), kFailed);
  EXPECT_EQ(count("SELECT count(*) FROM job_notification"), 2);
  EXPECT_EQ(mail_jobs(), 0);

  // The mail package not applied (its type unregistered): the notice row
  // stays, no job.
  db.sql("DELETE FROM job_type WHERE name = 'mail'");
  const auto unregistered = enqueue({{"outcome", "user_error"}}, "alice@example.org");
  ASSERT_EQ(run_foo_jobs().exit_code, 0);
  EXPECT_EQ(status_of(unregistered), kFailed);
  EXPECT_EQ(count("SELECT count(*) FROM job_notification WHERE job = " + std::to_string(unregistered)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM job"), 3);
}

TEST_F(MailJobTest, the_mail_is_rolled_back_with_the_notice_that_enqueued_it) {
  const auto id = enqueue({}, "alice@example.org");
  auto conn = db.connect();
  {
    auto tx = conn.begin();
    const auto job = store.get(tx, id);
    pg::Statements db_of_hook(tx);
    (void)pg::record_notification(db_of_hook, job, "s", "b");
    // The hook's savepoint rolled back (a hook that threw after writing).
    const auto error = tx.try_in_savepoint([&] {
      (void)pg::record_notification(db_of_hook, job, "s", "b");
      throw std::runtime_error("the hook failed");
    });
    EXPECT_TRUE(error);
    EXPECT_EQ(tx.exec("SELECT count(*) FROM job WHERE job_type = 'mail'").front().integer("count"), 1);
    // And the failure's transaction rolled back: no notice, no mail.
  }
  EXPECT_EQ(count("SELECT count(*) FROM job_notification"), 0);
  EXPECT_EQ(mail_jobs(), 0);
}

TEST_F(MailJobTest, an_error_report_enqueues_a_mail_to_the_operators_and_a_webhook) {
  ASSERT_EQ(apply_package(kWebhookPackage), "webhook");
  db.sql("SELECT jobrunner_set_type_notices('foo', ARRAY['ops@example.com', 'oncall@example.com'], 'alerts')");
  const auto id = enqueue({{"outcome", "error"}});
  ASSERT_EQ(run_foo_jobs().exit_code, 0);
  ASSERT_EQ(status_of(id), kFailed);
  const auto oops = count("SELECT id FROM error_report WHERE job = " + std::to_string(id));
  ASSERT_EQ(mail_jobs(), 1);
  const auto meta = metadata_of_mail();
  EXPECT_EQ(meta["to"], json::array({"oncall@example.com", "ops@example.com"}));
  EXPECT_TRUE(contains(meta["subject"], "jobrunner: OOPS-" + std::to_string(oops) + " in FooJob " +
                                            std::to_string(id)));
  EXPECT_TRUE(contains(meta["body"], "jobctl oops show " + std::to_string(oops)));
  EXPECT_EQ(meta["notice"]["error_report"], oops);
  ASSERT_EQ(count("SELECT count(*) FROM job WHERE job_type = 'webhook'"), 1);
  const auto hook = json::parse(
      db.sql("SELECT json_data::text AS m FROM job WHERE job_type = 'webhook'").at(0).text("m"));
  EXPECT_EQ(hook["endpoint"], "alerts");
  EXPECT_EQ(hook["body"]["event"], "jobrunner.error_report");
  EXPECT_EQ(hook["body"]["oops"], "OOPS-" + std::to_string(oops));
  EXPECT_EQ(hook["body"]["job"], id);
  EXPECT_EQ(hook["body"]["job_type"], "foo");

  Relay relay(dir_);
  ASSERT_EQ(run_mail_jobs(relay_file(relay.url())).exit_code, 0);
  const auto messages = relay.messages();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0]["rcpt_tos"], json::array({"oncall@example.com", "ops@example.com"}));
  // The webhook type takes the notice's metadata: its endpoint, here a port
  // where nothing listens, is tried (a retry), not refused.
  const auto hook_id = count("SELECT id FROM job WHERE job_type = 'webhook'");
  const auto endpoints = dir_ / "endpoints.json";
  std::ofstream(endpoints) << json{{"endpoints", {{"alerts", {{"url", "http://127.0.0.1:" + std::to_string(relay.port()) + "/"}, {"secret", "s"}}}}}}.dump();
  relay.stop();
  const auto w = run_program({bin("run-webhook-jobs"), "--db", db.conninfo(), "--endpoints",
                              endpoints.string(), "--limit", "1"});
  ASSERT_EQ(w.exit_code, 0) << shown(w);
  EXPECT_EQ(status_of(hook_id), kWaiting) << log_of(hook_id);
  EXPECT_TRUE(contains(log_of(hook_id), "webhook alerts: POST connection failed")) << log_of(hook_id);

  // Without operators configured, an error report notifies nobody.
  db.sql("SELECT jobrunner_set_type_notices('foo')");
  const auto quiet = enqueue({{"outcome", "error"}});
  ASSERT_EQ(run_foo_jobs().exit_code, 0);
  EXPECT_EQ(status_of(quiet), kFailed);
  EXPECT_EQ(mail_jobs(), 1);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE job_type = 'webhook'"), 1);
}

TEST_F(MailJobTest, type_notices_refuse_an_unknown_type_a_bad_address_or_endpoint_name) {
  auto refused = [&](const std::string& sql, const std::string& part) {
    try {
      db.sql(sql);
      ADD_FAILURE() << "accepted: " << sql;
    } catch (const std::exception& e) {
      EXPECT_TRUE(contains(e.what(), part));
    }
  };
  refused("SELECT jobrunner_set_type_notices('nope', ARRAY['a@b.example'])", "no job type 'nope'");
  refused("SELECT jobrunner_set_type_notices('foo', ARRAY['a@b.example', 'x\ny@z.org'])",
          "is not a mail address");
  refused("SELECT jobrunner_set_type_notices('foo', ARRAY[]::text[], 'https://evil.example/')",
          "is not an endpoint name");
  EXPECT_EQ(count("SELECT cardinality(operator_mail) FROM job_type WHERE name = 'foo'"), 0);
}

TEST_F(MailJobTest, jobctl_type_notices_sets_shows_and_clears_them) {
  auto r = jobctl({"type", "notices", "foo", "--mail", "ops@example.com", "--mail",
                   "oncall@example.com", "--webhook", "alerts"});
  ASSERT_EQ(r.exit_code, kOk) << shown(r);
  EXPECT_EQ(r.out, "job type foo: error reports mail oncall@example.com, ops@example.com; "
                   "webhook alerts\n");
  r = jobctl({"type", "notices", "foo", "--json"});
  ASSERT_EQ(r.exit_code, kOk) << shown(r);
  EXPECT_EQ(json::parse(r.out), (json{{"job_type", "foo"},
                                      {"operator_mail", {"oncall@example.com", "ops@example.com"}},
                                      {"operator_webhook", "alerts"}}));
  const auto before = snapshot();
  expect_refused(jobctl({"type", "notices", "foo", "--mail", "Ops <ops@example.com>"}), kDataError,
                 {"is not a mail address"});
  expect_refused(jobctl({"type", "notices", "nope", "--mail", "ops@example.com"}), kDataError,
                 {"nope"});
  EXPECT_EQ(count("SELECT cardinality(operator_mail) FROM job_type WHERE name = 'foo'"), 2);
  EXPECT_EQ(snapshot(), before);
  r = jobctl({"type", "notices", "foo", "--none"});
  ASSERT_EQ(r.exit_code, kOk) << shown(r);
  EXPECT_EQ(r.out, "job type foo: error reports mail nobody; webhook none\n");
}

TEST_F(MailJobTest, a_failing_mail_job_does_not_notify_about_itself_in_a_loop) {
  // The mail type's own operators are set; the relay refuses every login.
  db.sql("SELECT jobrunner_set_type_notices('mail', ARRAY['ops@example.com'])");
  const auto pki = testing::make_test_pki(dir_);
  Relay relay(dir_, {"--cert", pki.cert, "--key", pki.key, "--auth", "jobrunner:right"});
  const auto relay_path =
      relay_file("smtp://localhost:" + std::to_string(relay.port()),
                 {{"starttls", true}, {"ca_file", pki.ca}, {"username", "jobrunner"},
                  {"password_file", password_file("wrong")}});
  const auto id = enqueue_mail({{"to", "a@example.org"}, {"subject", "s"}, {"body", "b"}});
  // A run for the mail, one for its notice, one for any notice of the
  // notice.
  for (int run = 0; run < 3; ++run) ASSERT_EQ(run_mail_jobs(relay_path, {}, 10).exit_code, 0);
  EXPECT_EQ(status_of(id), kFailed);
  // The mail's error report enqueued one notice to the operators; the
  // notice failed too (same relay) and notified nobody.
  EXPECT_EQ(mail_jobs(), 2);
  EXPECT_EQ(count("SELECT count(*) FROM error_report"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE job_type = 'mail' AND status = 3"), 2);
  EXPECT_EQ(metadata_of_mail("json_data ? 'notice'")["to"], json::array({"ops@example.com"}));
  EXPECT_TRUE(relay.messages().empty());
}

}  // namespace
}  // namespace jobrunner::jobctl_test
