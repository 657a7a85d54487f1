# Included from src/CMakeLists.txt (a custom command is visible only in its own directory).
# The SQL files are the source of truth; they are embedded into the pg library
# at build time (see cmake/EmbedSql.cmake).
file(GLOB JOBRUNNER_MIGRATION_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/sql/migrations/*.sql)
file(GLOB JOBRUNNER_QUERY_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/sql/queries/*.sql)
set(JOBRUNNER_SECURITY_FILE ${PROJECT_SOURCE_DIR}/sql/security.cfg)
set(JOBRUNNER_EMBEDDED_SQL_CPP ${CMAKE_BINARY_DIR}/generated/embedded_sql.cpp)

list(JOIN JOBRUNNER_MIGRATION_FILES "|" _migrations)
list(JOIN JOBRUNNER_QUERY_FILES "|" _queries)
add_custom_command(
  OUTPUT ${JOBRUNNER_EMBEDDED_SQL_CPP}
  COMMAND ${CMAKE_COMMAND} -DOUTPUT=${JOBRUNNER_EMBEDDED_SQL_CPP}
          "-DMIGRATIONS=${_migrations}" "-DQUERIES=${_queries}"
          -DSECURITY=${JOBRUNNER_SECURITY_FILE}
          -P ${CMAKE_SOURCE_DIR}/cmake/EmbedSql.cmake
  DEPENDS ${JOBRUNNER_MIGRATION_FILES} ${JOBRUNNER_QUERY_FILES} ${JOBRUNNER_SECURITY_FILE}
          ${CMAKE_SOURCE_DIR}/cmake/EmbedSql.cmake
  COMMENT "Embedding sql/ into the pg library"
  VERBATIM)

