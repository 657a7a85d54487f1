# jobrunner_install_job_package(NAME name MIGRATIONS file... [SECURITY file])
#
# A job type package (docs/implementing-a-job-type.md): its schema patches
# (NNNN-name.sql, numbered from 0001) and its security fragment, laid out
# the one way jobctl reads them. Installed with jobrunner's CMake package, so
# that every package installs the same way:
#
#   find_package(jobrunner REQUIRED)
#   jobrunner_install_job_package(NAME bar
#     MIGRATIONS migrations/0001-bar.sql
#     SECURITY   security.cfg)
#
# It does two things:
#  - at configure time, copies the files into the package's directory in the
#    build tree, ${CMAKE_CURRENT_BINARY_DIR}/jobrunner-package/<name>/
#    (NNNN-name.sql and security.cfg), which it stores in the variable
#    JOBRUNNER_PACKAGE_DIR_<name>: the directory to give
#    `jobctl db upgrade|status|permissions --migrations-dir` (the package is
#    named after it) and a test of the package (pg::load_package). A changed
#    file is copied again at the next build (CMake reconfigures);
#  - installs them where the installed jobctl looks for packages:
#    <prefix>/${CMAKE_INSTALL_DATADIR}/jobrunner/migrations/<name>/ and
#    <prefix>/${CMAKE_INSTALL_DATADIR}/jobrunner/security.d/<name>.cfg.
#    jobctl reads share/jobrunner beside itself (<bindir>/../share/jobrunner),
#    so install the package into the prefix jobrunner was installed into, or
#    point jobctl at another with $JOBRUNNER_DATA_DIR.
#
# Stops the configuration with an error for a malformed name (1 to 63 lower
# case letters, digits, _ and -, starting with a letter; not "jobrunner"), a file
# that does not exist, a patch not named NNNN-name.sql, or patches that are
# not numbered 0001, 0002, ... without a gap or duplicate (jobctl would
# refuse them too, later).
include_guard(GLOBAL)
include(GNUInstallDirs)

function(jobrunner_install_job_package)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;SECURITY" "MIGRATIONS")
  set(where "jobrunner_install_job_package")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${where}: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_NAME)
    message(FATAL_ERROR "${where}: NAME is required (the package's name, e.g. NAME bar)")
  endif()
  set(name "${arg_NAME}")
  if(name STREQUAL "jobrunner")
    message(FATAL_ERROR "${where}: the package name 'jobrunner' is reserved for jobrunner's own patches")
  endif()
  string(LENGTH "${name}" length)
  if(NOT name MATCHES "^[a-z][a-z0-9_-]*$" OR length GREATER 63)
    message(FATAL_ERROR "${where}: '${name}' is not a valid package name (1 to 63 lower case letters, digits, _ and -, starting with a letter)")
  endif()
  if(NOT arg_MIGRATIONS AND NOT arg_SECURITY)
    message(FATAL_ERROR "${where}(NAME ${name}): give MIGRATIONS, SECURITY or both")
  endif()

  set(staged "${CMAKE_CURRENT_BINARY_DIR}/jobrunner-package/${name}")
  file(REMOVE_RECURSE "${staged}")  # a patch removed from the list goes too
  set(numbers "")
  set(patches "")
  foreach(patch IN LISTS arg_MIGRATIONS)
    cmake_path(ABSOLUTE_PATH patch BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" OUTPUT_VARIABLE file)
    if(NOT EXISTS "${file}")
      message(FATAL_ERROR "${where}(NAME ${name}): schema patch '${patch}' does not exist")
    endif()
    cmake_path(GET file FILENAME file_name)
    if(NOT file_name MATCHES "^([0-9]+)-.+\\.sql$")
      message(FATAL_ERROR "${where}(NAME ${name}): schema patch '${patch}' is not named NNNN-description.sql")
    endif()
    math(EXPR number "${CMAKE_MATCH_1}")  # without leading zeros
    list(APPEND numbers "${number}")
    list(APPEND patches "${file}")
    configure_file("${file}" "${staged}/${file_name}" COPYONLY)
  endforeach()
  list(SORT numbers COMPARE NATURAL)
  set(expected 1)
  foreach(number IN LISTS numbers)
    if(NOT number EQUAL expected)
      message(FATAL_ERROR "${where}(NAME ${name}): patch ${expected} is missing or doubled (a package's patches are numbered 0001, 0002, ... without a gap)")
    endif()
    math(EXPR expected "${expected} + 1")
  endforeach()

  set(data "${CMAKE_INSTALL_DATADIR}/jobrunner")
  if(patches)
    install(FILES ${patches} DESTINATION "${data}/migrations/${name}")
  endif()
  if(arg_SECURITY)
    cmake_path(ABSOLUTE_PATH arg_SECURITY BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" OUTPUT_VARIABLE file)
    if(NOT EXISTS "${file}")
      message(FATAL_ERROR "${where}(NAME ${name}): security fragment '${arg_SECURITY}' does not exist")
    endif()
    configure_file("${file}" "${staged}/security.cfg" COPYONLY)
    install(FILES "${file}" DESTINATION "${data}/security.d" RENAME "${name}.cfg")
  endif()
  file(MAKE_DIRECTORY "${staged}")  # a package of grants only has no patches
  set(JOBRUNNER_PACKAGE_DIR_${name} "${staged}" PARENT_SCOPE)
endfunction()
