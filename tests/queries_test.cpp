// The named SQL blocks of sql/queries/*.sql and their placeholders (no
// database): status names become the codes of core/status.hpp, a type's
// tables become its quoted identifiers, and anything else fails the load.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "foo/foo_job.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/core/status.hpp"
#include "pg/queries.hpp"

namespace jobrunner {
namespace {

// Loads one file of blocks; returns what the load threw, or "" if nothing.
std::string load_error(std::string_view text) {
  const std::vector<pg::embedded::File> files = {{"test.sql", text}};
  try {
    (void)pg::load_query_blocks(files);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(QueriesTest, every_embedded_block_loads_and_names_no_unknown_placeholder) {
  const auto blocks = pg::load_query_blocks(pg::embedded::queries());
  EXPECT_GT(blocks.size(), 20u);
  const auto& foo = foo::foo_job_type().spec;
  for (const auto& [name, text] : blocks) {
    SCOPED_TRACE(name);
    // Only a type's placeholders are left, and type_query fills them all.
    EXPECT_FALSE(has(pg::type_query(name, foo), "{{")) << pg::type_query(name, foo);
    if (!has(text, "{{")) {
      EXPECT_EQ(pg::query(name), text);
    }
  }
}

TEST(QueriesTest, status_names_become_the_codes_of_core_status) {
  const auto& ready = pg::query("job_ready");
  EXPECT_TRUE(has(ready, "j.status = " + std::to_string(static_cast<int>(JobStatus::waiting))))
      << ready;
  const auto blocks = pg::load_query_blocks(std::vector<pg::embedded::File>{
      {"test.sql", "-- name: a\nSELECT {{WAITING}}, {{RUNNING}}, {{COMPLETED}}, {{FAILED}}, "
                   "{{SUSPENDED}}, {{CANCELLED}}\n"}});
  EXPECT_EQ(blocks.at("a"), "SELECT 0, 1, 2, 3, 4, 5\n");
}

TEST(QueriesTest, a_block_expands_the_blocks_it_names) {
  const auto blocks = pg::load_query_blocks(std::vector<pg::embedded::File>{
      {"one.sql", "-- name: outer\n-- a comment\nSELECT {{inner}} FROM t\n"},
      {"two.sql", "-- name: inner\nx, {{leaf}}\n-- name: leaf\ny\n"}});
  EXPECT_EQ(blocks.at("outer"), "SELECT x, y\n\n FROM t\n");
  EXPECT_TRUE(has(pg::query("job_get"), "j.lease_token::text AS lease_token")) << "job_columns";
}

TEST(QueriesTest, an_unknown_placeholder_fails_the_load_and_names_it) {
  const auto error = load_error("-- name: a\nSELECT 1 WHERE status = {{WAITNG}}\n");
  EXPECT_TRUE(has(error, "{{WAITNG}}")) << error;
  EXPECT_TRUE(has(error, "'a'")) << error;
  EXPECT_TRUE(has(load_error("-- name: a\nSELECT {{waiting}}\n"), "{{waiting}}"))
      << "status names are upper case";
}

TEST(QueriesTest, an_unterminated_placeholder_a_loop_or_a_second_block_of_a_name_fails_the_load) {
  EXPECT_TRUE(has(load_error("-- name: a\nSELECT {{WAITING\n"), "unterminated"));
  EXPECT_TRUE(has(load_error("-- name: a\n{{b}}\n-- name: b\n{{a}}\n"), "includes itself"));
  EXPECT_TRUE(has(load_error("-- name: a\n1\n-- name: a\n2\n"), "second SQL block"));
  EXPECT_TRUE(has(load_error("-- name: RUNNING\n1\n"), "name of a placeholder"));
}

TEST(QueriesTest, a_types_placeholders_become_its_quoted_identifiers) {
  const auto& foo = foo::foo_job_type().spec;
  const auto load = pg::type_query("type_row_load", foo);
  EXPECT_TRUE(has(load, "t.\"foo\" AS target_id")) << load;
  EXPECT_TRUE(has(load, "FROM \"foojob\" AS t")) << load;
  // The claim keeps the form whose plan reads the type table through its
  // index on job (docs/performance.md, "Cheaper rows").
  const auto claim = pg::type_query("job_claim_with_type_row", foo);
  EXPECT_TRUE(has(claim, "t.job = ANY(ARRAY(SELECT id FROM claimed))")) << claim;
  EXPECT_TRUE(has(claim, "WHERE j.id = ANY(ARRAY(SELECT id FROM ready))")) << claim;
  // Without a type the block is refused, not run with its placeholders.
  EXPECT_THROW((void)pg::query("type_row_load"), Error);
  EXPECT_THROW((void)pg::query("no_such_block"), Error);
}

TEST(QueriesTest, a_type_whose_names_are_not_plain_identifiers_is_refused) {
  auto spec = foo::foo_job_type().spec;
  spec.table = "foojob; DROP TABLE job";
  EXPECT_THROW((void)pg::type_query("type_row_load", spec), ConfigError);
  spec = foo::foo_job_type().spec;
  spec.target_column = "Foo";
  EXPECT_THROW((void)pg::type_query("type_row_load", spec), ConfigError);
}

}  // namespace
}  // namespace jobrunner
