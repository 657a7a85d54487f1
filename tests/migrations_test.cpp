// Numbered schema patches on a fresh, empty database: applied in order,
// recorded with checksums, edited patches refused, failures rolled back.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "jobrunner/core/errors.hpp"
#include "jobrunner/pg/migrations.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using State = pg::PatchStatus::State;

const pg::Patch kExtra{99, "0099-extra.sql", "CREATE TABLE extra(x int);"};
// sha256 of kExtra.text, computed outside PostgreSQL (sha256sum).
constexpr auto kExtraChecksum = "23aa1d5c2dc8eaa9f020770ae1d325dc9841beea1ecadf659083134a8127c017";

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  std::random_device random;
  return std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(random() % 1000000);
}

std::vector<pg::Patch> with(std::vector<pg::Patch> patches, const pg::Patch& more) {
  patches.push_back(more);
  return patches;
}

// A database made with CREATE DATABASE (no template of ours): nothing in it.
class MigrationsTest : public ::testing::Test {
 protected:
  MigrationsTest() : name_("jrmig_" + unique_suffix()) {
    admin().exec_outside_transaction("CREATE DATABASE " + name_);
  }
  ~MigrationsTest() override {
    try {
      admin().exec_outside_transaction("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // Left for the throwaway server to discard.
    }
  }

  static pg::Connection admin() {
    return pg::Connection::open(testing::server_conninfo() + " dbname=postgres");
  }
  pg::Connection connect() const {
    return pg::Connection::open(testing::server_conninfo() + " dbname=" + name_);
  }
  template <typename... Args>
  pg::Rows sql(std::string_view statement, Args&&... args) const {
    auto conn = connect();
    auto tx = conn.begin();
    auto rows = tx.exec(statement, std::forward<Args>(args)...);
    tx.commit();
    return rows;
  }
  template <typename... Args>
  std::int64_t scalar(std::string_view statement, Args&&... args) const {
    const auto rows = sql(statement, std::forward<Args>(args)...);
    return rows.at(0).integer(rows.at(0).columns().at(0));
  }
  bool table_exists(const std::string& table) const {
    return scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = $1",
                  table) == 1;
  }
  std::int64_t recorded_count() const { return scalar("SELECT count(*) FROM database_revision"); }

  std::string name_;
};

std::vector<std::string> names_of(const std::vector<pg::Patch>& patches) {
  std::vector<std::string> names;
  for (const auto& p : patches) names.push_back(p.name);
  return names;
}

TEST(EmbeddedPatches, are_numbered_in_order_starting_with_job_and_foo) {
  const auto patches = pg::embedded_patches();
  ASSERT_GE(patches.size(), 2U);
  EXPECT_EQ(patches[0].name, "0001-job.sql");
  EXPECT_EQ(patches[1].name, "0002-foo.sql");
  for (std::size_t i = 1; i < patches.size(); ++i) {
    EXPECT_LT(patches[i - 1].number, patches[i].number);
  }
}

TEST_F(MigrationsTest, upgrade_applies_every_embedded_patch_in_order_and_records_it) {
  auto conn = connect();
  const auto patches = pg::embedded_patches();
  const auto applied = pg::upgrade(conn, patches);
  EXPECT_EQ(names_of(applied), names_of(patches));

  const auto rows = sql(
      "SELECT number, name, checksum, "
      "date_applied BETWEEN now() - interval '5 minutes' AND now() AS recent, "
      "checksum = encode(sha256(convert_to($1, 'UTF8')), 'hex') AS matches_first "
      "FROM database_revision ORDER BY date_applied, number",
      patches.at(0).text);
  ASSERT_EQ(rows.size(), patches.size());
  const std::regex hex64("[0-9a-f]{64}");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].integer("number"), patches[i].number);
    EXPECT_EQ(rows[i].text("name"), patches[i].name);
    EXPECT_TRUE(std::regex_match(rows[i].text("checksum"), hex64)) << rows[i].text("checksum");
    EXPECT_TRUE(rows[i].boolean("recent"));
  }
  EXPECT_TRUE(rows[0].boolean("matches_first"));
  EXPECT_NE(rows[0].text("checksum"), rows[1].text("checksum"));
  for (const auto* table : {"job", "error_report", "foo", "foojob", "foo_frozzle"}) {
    EXPECT_TRUE(table_exists(table)) << table;
  }
}

TEST_F(MigrationsTest, the_recorded_checksum_is_the_sha256_of_the_patch_text) {
  auto conn = connect();
  pg::upgrade(conn, with(pg::embedded_patches(), kExtra));
  EXPECT_EQ(sql("SELECT checksum FROM database_revision WHERE number = 99").at(0).text("checksum"),
            kExtraChecksum);
}

TEST_F(MigrationsTest, upgrading_again_applies_nothing) {
  auto conn = connect();
  pg::upgrade(conn, pg::embedded_patches());
  const auto before = sql("SELECT number, date_applied::text AS d FROM database_revision ORDER BY 1");
  EXPECT_TRUE(pg::upgrade(conn, pg::embedded_patches()).empty());
  auto other = connect();
  EXPECT_TRUE(pg::upgrade(other, pg::embedded_patches()).empty());
  const auto after = sql("SELECT number, date_applied::text AS d FROM database_revision ORDER BY 1");
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].values(), before[i].values());
}

TEST_F(MigrationsTest, migration_status_on_a_fresh_database_lists_every_patch_as_pending) {
  auto conn = connect();
  const auto status = pg::migration_status(conn, pg::embedded_patches());
  ASSERT_EQ(status.size(), pg::embedded_patches().size());
  for (const auto& s : status) {
    EXPECT_EQ(s.state, State::pending) << s.patch.name;
    EXPECT_FALSE(s.date_applied.has_value()) << s.patch.name;
  }
  EXPECT_EQ(recorded_count(), 0);
}

TEST_F(MigrationsTest, migration_status_shows_applied_and_pending_patches) {
  auto conn = connect();
  pg::upgrade(conn, pg::embedded_patches());
  const auto patches = with(pg::embedded_patches(), kExtra);
  const auto status = pg::migration_status(conn, patches);
  ASSERT_EQ(status.size(), patches.size());
  for (std::size_t i = 0; i + 1 < status.size(); ++i) {
    EXPECT_EQ(status[i].patch.name, patches[i].name);
    EXPECT_EQ(status[i].state, State::applied) << status[i].patch.name;
    EXPECT_TRUE(status[i].date_applied.has_value()) << status[i].patch.name;
  }
  EXPECT_EQ(status.back().patch.name, "0099-extra.sql");
  EXPECT_EQ(status.back().state, State::pending);
  EXPECT_FALSE(status.back().date_applied.has_value());
  EXPECT_FALSE(table_exists("extra"));  // status applies nothing
}

TEST_F(MigrationsTest, upgrade_then_applies_only_the_pending_patch) {
  auto conn = connect();
  pg::upgrade(conn, pg::embedded_patches());
  const auto applied = pg::upgrade(conn, with(pg::embedded_patches(), kExtra));
  EXPECT_EQ(names_of(applied), std::vector<std::string>{"0099-extra.sql"});
  EXPECT_TRUE(table_exists("extra"));
  for (const auto& s : pg::migration_status(conn, with(pg::embedded_patches(), kExtra))) {
    EXPECT_EQ(s.state, State::applied) << s.patch.name;
  }
}

TEST_F(MigrationsTest, a_recorded_patch_unknown_to_the_binary_is_listed_as_applied) {
  auto conn = connect();
  pg::upgrade(conn, with(pg::embedded_patches(), kExtra));
  const auto status = pg::migration_status(conn, pg::embedded_patches());
  ASSERT_EQ(status.size(), pg::embedded_patches().size() + 1);
  EXPECT_EQ(status.back().patch.number, 99);
  EXPECT_EQ(status.back().patch.name, "0099-extra.sql");
  EXPECT_EQ(status.back().state, State::applied);
  EXPECT_TRUE(status.back().patch.text.empty());
}

TEST_F(MigrationsTest, an_edited_applied_patch_is_refused_and_nothing_is_applied) {
  auto conn = connect();
  pg::upgrade(conn, pg::embedded_patches());
  auto edited = pg::embedded_patches();
  edited.at(0).text += "\n-- a later edit\n";
  const auto patches = with(edited, kExtra);

  const auto status = pg::migration_status(conn, patches);
  EXPECT_EQ(status.at(0).state, State::changed);
  EXPECT_EQ(status.at(1).state, State::applied);

  try {
    pg::upgrade(conn, patches);
    FAIL() << "an edited patch was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("0001-job.sql"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(table_exists("extra"));
  EXPECT_EQ(recorded_count(), static_cast<std::int64_t>(pg::embedded_patches().size()));
  // The upgrade lock went with the refused upgrade.
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                   "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            0);
}

TEST_F(MigrationsTest, a_failing_patch_is_rolled_back_and_not_recorded) {
  auto conn = connect();
  const pg::Patch broken{97, "0097-broken.sql",
                         "CREATE TABLE broken(x int);\nINSERT INTO broken VALUES (1);\n"
                         "SELECT no_such_function();"};
  const pg::Patch after_broken{98, "0098-after.sql", "CREATE TABLE after_broken(x int);"};
  try {
    pg::upgrade(conn, with(with(pg::embedded_patches(), broken), after_broken));
    FAIL() << "a failing patch was reported as applied";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("0097-broken.sql"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(table_exists("broken"));
  EXPECT_FALSE(table_exists("after_broken"));
  EXPECT_EQ(scalar("SELECT count(*) FROM database_revision WHERE number >= 97"), 0);
  // The patches before it stay applied.
  EXPECT_EQ(recorded_count(), static_cast<std::int64_t>(pg::embedded_patches().size()));
  EXPECT_TRUE(table_exists("job"));
}

TEST_F(MigrationsTest, patches_given_out_of_order_are_applied_in_number_order) {
  auto conn = connect();
  const pg::Patch create{97, "0097-create.sql", "CREATE TABLE later(x int);"};
  const pg::Patch alter{98, "0098-alter.sql", "ALTER TABLE later ADD COLUMN y int;"};
  const auto applied = pg::upgrade(conn, {alter, create});
  EXPECT_EQ(names_of(applied), (std::vector<std::string>{"0097-create.sql", "0098-alter.sql"}));
  EXPECT_TRUE(table_exists("later"));
}

TEST_F(MigrationsTest, two_patches_with_one_number_are_refused_before_anything_is_applied) {
  auto conn = connect();
  const pg::Patch first{97, "0097-first.sql", "CREATE TABLE first_one(x int);"};
  const pg::Patch second{97, "0097-second.sql", "CREATE TABLE second_one(x int);"};
  try {
    pg::upgrade(conn, {first, second});
    FAIL() << "two patches numbered 97 were accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("0097-second.sql"), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a ConfigError, got: " << e.what();
  }
  EXPECT_FALSE(table_exists("first_one"));
  EXPECT_FALSE(table_exists("second_one"));
}

TEST_F(MigrationsTest, concurrent_upgrades_apply_each_patch_once) {
  const auto patches = pg::embedded_patches();
  std::vector<pg::Connection> connections;
  for (int i = 0; i < 3; ++i) connections.push_back(connect());
  std::vector<std::size_t> applied(connections.size());
  std::vector<std::string> errors(connections.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < connections.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        applied[i] = pg::upgrade(connections[i], patches).size();
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::size_t total = 0;
  for (std::size_t i = 0; i < connections.size(); ++i) {
    EXPECT_EQ(errors[i], "") << "upgrader " << i;
    total += applied[i];
  }
  EXPECT_EQ(total, patches.size());
  EXPECT_EQ(recorded_count(), static_cast<std::int64_t>(patches.size()));
}

TEST_F(MigrationsTest, tables_and_their_columns_carry_comments) {
  auto conn = connect();
  pg::upgrade(conn, pg::embedded_patches());
  std::string missing;
  for (const auto& row : sql(
           "SELECT c.relname AS t FROM pg_class c "
           "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' "
           "AND coalesce(obj_description(c.oid, 'pg_class'), '') = '' ORDER BY 1")) {
    missing += " " + row.text("t");
  }
  EXPECT_EQ(missing, "") << "tables without a comment:" << missing;

  missing.clear();
  for (const auto& row : sql(
           "SELECT c.relname || '.' || a.attname AS col FROM pg_attribute a "
           "JOIN pg_class c ON c.oid = a.attrelid "
           "WHERE c.relnamespace = 'public'::regnamespace "
           "AND c.relname IN ('job', 'foojob', 'foo', 'error_report', 'job_schedule', "
           "'job_schedule_occurrence') "
           "AND a.attnum > 0 AND NOT a.attisdropped "
           "AND coalesce(col_description(c.oid, a.attnum), '') = '' ORDER BY 1")) {
    missing += " " + row.text("col");
  }
  EXPECT_EQ(missing, "") << "columns without a comment:" << missing;
}

// ---- packages ----------------------------------------------------------------

std::vector<pg::Patch> core_up_to(int number) {
  std::vector<pg::Patch> out;
  for (auto& p : pg::embedded_patches()) {
    if (p.number <= number) out.push_back(std::move(p));
  }
  return out;
}

pg::Patch package_patch(const std::string& package, int number, const std::string& text) {
  const auto digits = std::to_string(number);
  return pg::Patch{number, std::string(4 - digits.size(), '0') + digits + "-p.sql", text, package};
}

TEST_F(MigrationsTest, a_database_migrated_by_0001_to_0009_upgrades_in_place) {
  auto conn = connect();
  ASSERT_EQ(pg::upgrade(conn, core_up_to(9)).size(), 9U);
  const auto foo = scalar("INSERT INTO foo (name) VALUES ('old') RETURNING id");
  const auto job = scalar("INSERT INTO job (job_type) VALUES ('foo') RETURNING id");
  sql("INSERT INTO foojob (job, foo, job_type) VALUES ($1, $2, 0)", job, foo);
  const auto before = sql("SELECT number, checksum, date_applied::text AS d FROM database_revision "
                          "ORDER BY number");

  // What the old binaries see: every patch pending from 0010 on.
  const auto status = pg::migration_status(conn, pg::embedded_patches());
  for (const auto& s : status) {
    EXPECT_EQ(s.state, s.patch.number <= 9 ? State::applied : State::pending) << s.patch.name;
  }
  const pg::Patch bar = package_patch("bar", 1, "CREATE TABLE bar_one (x int);");
  const auto applied = pg::upgrade(conn, with(pg::embedded_patches(), bar));
  ASSERT_GE(applied.size(), 2U);
  EXPECT_EQ(applied.front().name, "0010-job-type-registry.sql");
  EXPECT_EQ(applied.back().package, "bar");

  // The old rows are jobrunner's, untouched; the new ones carry their package.
  const auto after = sql("SELECT number, checksum, date_applied::text AS d FROM database_revision "
                         "WHERE package = 'jobrunner' AND number <= 9 ORDER BY number");
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].values(), before[i].values());
  EXPECT_EQ(scalar("SELECT count(*) FROM database_revision WHERE package = 'bar' AND number = 1"),
            1);
  // The old job is of a registered type, and the constraint is validated.
  EXPECT_EQ(scalar("SELECT count(*) FROM job JOIN job_type ON job_type.name = job.job_type"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'job__job_type__fk' "
                   "AND convalidated"),
            1);
  for (const auto& s : pg::migration_status(conn, with(pg::embedded_patches(), bar))) {
    EXPECT_EQ(s.state, State::applied) << s.patch.package << "/" << s.patch.name;
  }
  EXPECT_TRUE(pg::upgrade(conn, with(pg::embedded_patches(), bar)).empty());
}

TEST_F(MigrationsTest, jobs_of_types_the_registry_patch_does_not_know_leave_the_constraint_not_valid) {
  auto conn = connect();
  pg::upgrade(conn, core_up_to(9));
  sql("INSERT INTO job (job_type) VALUES ('forked')");
  pg::upgrade(conn, pg::embedded_patches());
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'job__job_type__fk' "
                   "AND NOT convalidated"),
            1);
  EXPECT_THROW(sql("INSERT INTO job (job_type) VALUES ('forked')"), pg::SqlError);
}

TEST_F(MigrationsTest, a_package_patch_applies_after_every_core_patch_and_with_its_package_set) {
  auto conn = connect();
  const auto core = pg::embedded_patches();
  const pg::Patch first = package_patch("zeta", 1,
      "CREATE TABLE zeta_one AS SELECT current_setting('jobrunner.package') AS package;");
  const pg::Patch alpha = package_patch("alpha", 1, "CREATE TABLE alpha_one (x int);");
  const auto applied = pg::upgrade(conn, with(with(core, first), alpha));
  ASSERT_EQ(applied.size(), core.size() + 2);
  EXPECT_EQ(applied[core.size()].package, "alpha");
  EXPECT_EQ(applied[core.size() + 1].package, "zeta");
  EXPECT_EQ(sql("SELECT package FROM zeta_one").at(0).text("package"), "zeta");
}

TEST_F(MigrationsTest, a_package_patch_is_refused_without_the_core_revision_it_requires) {
  auto conn = connect();
  const pg::Patch needs = package_patch("bar", 1, "-- requires: jobrunner 0042\nCREATE TABLE bar_one (x int);");
  try {
    pg::upgrade(conn, with(pg::embedded_patches(), needs));
    FAIL() << "a patch requiring a missing core revision was applied";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("requires patch 0042 of package jobrunner"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(table_exists("job"));  // not even the core patches

  // A core revision pending in the same upgrade satisfies it.
  const pg::Patch fine = package_patch("bar", 1, "-- requires: jobrunner 0010\nCREATE TABLE bar_one (x int);");
  EXPECT_EQ(pg::upgrade(conn, with(pg::embedded_patches(), fine)).back().package, "bar");
}

TEST_F(MigrationsTest, a_package_patch_needs_the_registry_patch_even_without_saying_so) {
  auto conn = connect();
  pg::upgrade(conn, core_up_to(9));
  const pg::Patch bar = package_patch("bar", 1, "CREATE TABLE bar_one (x int);");
  EXPECT_THROW(pg::upgrade(conn, with(core_up_to(9), bar)), ConfigError);
  EXPECT_FALSE(table_exists("bar_one"));
}

TEST_F(MigrationsTest, packages_number_their_patches_independently_and_edits_are_refused_per_package) {
  auto conn = connect();
  const pg::Patch a1 = package_patch("apkg", 1, "CREATE TABLE a_one (x int);");
  const pg::Patch b1 = package_patch("bpkg", 1, "CREATE TABLE b_one (x int);");
  pg::upgrade(conn, with(with(pg::embedded_patches(), a1), b1));
  EXPECT_EQ(scalar("SELECT count(*) FROM database_revision WHERE number = 1"), 3);
  auto edited = b1;
  edited.text += "\n-- edited";
  const auto status = pg::migration_status(conn, with(with(pg::embedded_patches(), a1), edited));
  EXPECT_EQ(status.back().state, State::changed);
  EXPECT_THROW(pg::upgrade(conn, with(with(pg::embedded_patches(), a1), edited)), ConfigError);
}

// ---- load_patches ----------------------------------------------------------

// A temporary directory of patch files, removed at the end of the test.
class PatchDirectory {
 public:
  PatchDirectory()
      : path_(std::filesystem::temp_directory_path() / ("jobrunner-patches-" + unique_suffix())) {
    std::filesystem::create_directories(path_);
  }
  ~PatchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  PatchDirectory(const PatchDirectory&) = delete;
  PatchDirectory& operator=(const PatchDirectory&) = delete;

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string load_error(const std::filesystem::path& directory) {
  try {
    pg::load_patches(directory);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "load_patches accepted " << directory;
  return {};
}

TEST(LoadPatches, reads_the_sql_files_of_a_directory_in_number_order) {
  PatchDirectory dir;
  dir.write("0010-later.sql", "SELECT 10;");
  dir.write("0002-second.sql", "SELECT 2;");
  dir.write("0001-first.sql", "SELECT 1;");
  dir.write("README.txt", "not a patch");
  const auto patches = pg::load_patches(dir.path());
  ASSERT_EQ(patches.size(), 3U);
  EXPECT_EQ(patches[0].number, 1);
  EXPECT_EQ(patches[0].name, "0001-first.sql");
  EXPECT_EQ(patches[0].text, "SELECT 1;");
  EXPECT_EQ(patches[1].number, 2);
  EXPECT_EQ(patches[2].number, 10);
  EXPECT_EQ(patches[2].name, "0010-later.sql");
}

TEST(LoadPatches, the_source_tree_patches_match_the_embedded_ones) {
  const auto source_dir = std::filesystem::path(__FILE__).parent_path().parent_path();
  const auto from_disk = pg::load_patches(source_dir / "sql" / "migrations");
  const auto embedded = pg::embedded_patches();
  ASSERT_EQ(from_disk.size(), embedded.size());
  for (std::size_t i = 0; i < embedded.size(); ++i) {
    EXPECT_EQ(from_disk[i].name, embedded[i].name);
    EXPECT_EQ(from_disk[i].text, embedded[i].text) << embedded[i].name;
  }
}

TEST(LoadPatches, a_misnamed_file_is_a_config_error_naming_it) {
  PatchDirectory dir;
  dir.write("0001-first.sql", "SELECT 1;");
  dir.write("second.sql", "SELECT 2;");
  const auto message = load_error(dir.path());
  EXPECT_NE(message.find("second.sql"), std::string::npos) << message;
}

TEST(LoadPatches, other_misnamed_files_are_config_errors) {
  for (const char* name : {"0000-zero.sql", "0001.sql", "0001_underscore.sql", "x0001-a.sql"}) {
    PatchDirectory dir;
    dir.write(name, "SELECT 1;");
    const auto message = load_error(dir.path());
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
}

TEST(LoadPatches, two_patches_with_one_number_are_a_config_error) {
  PatchDirectory dir;
  dir.write("0001-a.sql", "SELECT 1;");
  dir.write("0001-b.sql", "SELECT 2;");
  const auto message = load_error(dir.path());
  EXPECT_NE(message.find("0001-a.sql"), std::string::npos) << message;
  EXPECT_NE(message.find("0001-b.sql"), std::string::npos) << message;
}

TEST(LoadPatches, a_missing_directory_is_a_config_error) {
  const auto missing = std::filesystem::temp_directory_path() / ("no-such-dir-" + unique_suffix());
  const auto message = load_error(missing);
  EXPECT_NE(message.find(missing.string()), std::string::npos) << message;
}

}  // namespace
}  // namespace jobrunner
