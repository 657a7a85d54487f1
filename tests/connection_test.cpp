// pg::Connection when the server closes it: idle_and_open() notices without
// a round trip, and every way of finding out afterwards throws
// DatabaseUnavailable that says why (the server's FATAL message, which
// libpqxx 6.4 alone reduces to "Connection to database failed").
#include <chrono>
#include <string>

#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/connection.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;

constexpr auto kWhy = "terminating connection due to administrator command";

class ConnectionTest : public testing::DatabaseTest {
 protected:
  // Terminates `victim`'s session from another one and waits until it ended.
  void terminate(const pg::Connection& victim) const {
    ASSERT_EQ(db.scalar("SELECT count(*) FILTER (WHERE ended) FROM "
                        "(SELECT pg_terminate_backend($1, 10000) AS ended) AS s",
                        victim.backend_pid()),
              1);
  }
  // The message of the DatabaseUnavailable that `use` throws ("" if none).
  template <typename Use>
  static std::string unavailable_message(Use use) {
    try {
      use();
    } catch (const DatabaseUnavailable& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(ConnectionTest, an_idle_connection_is_idle_and_open_until_the_server_closes_it) {
  auto conn = db.connect();
  EXPECT_TRUE(conn.idle_and_open());
  {
    auto tx = conn.begin();
    tx.exec("SELECT 1");
    tx.commit();
  }
  EXPECT_TRUE(conn.idle_and_open()) << "a finished transaction leaves nothing unread";

  terminate(conn);
  EXPECT_FALSE(conn.idle_and_open());
  EXPECT_TRUE(db.connect().idle_and_open()) << "a new connection works";
}

TEST_F(ConnectionTest, waiting_for_notifications_on_a_closed_connection_says_why) {
  auto conn = db.connect();
  conn.listen("connection_test");
  terminate(conn);
  const auto message = unavailable_message([&] {
    // The first wait may only read the server's farewell; the next finds
    // the connection closed.
    for (int i = 0; i < 3; ++i) conn.await_notifications(100ms);
  });
  EXPECT_NE(message.find(kWhy), std::string::npos) << message;
}

TEST_F(ConnectionTest, a_statement_on_a_closed_connection_says_why) {
  auto conn = db.connect();
  terminate(conn);
  const auto message = unavailable_message([&] {
    auto tx = conn.begin();
    tx.exec("SELECT 1");
  });
  EXPECT_NE(message.find(kWhy), std::string::npos) << message;
}

}  // namespace
}  // namespace jobrunner
