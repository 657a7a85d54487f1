#pragma once
// The files of sql/, embedded at build time by cmake/EmbedSql.cmake.

#include <span>
#include <string_view>

namespace jobrunner::pg::embedded {

struct File {
  std::string_view name;  // e.g. "0001-job.sql"
  std::string_view text;
};

std::span<const File> migrations();  // sorted by name
std::span<const File> queries();
std::string_view security_config();

}  // namespace jobrunner::pg::embedded
