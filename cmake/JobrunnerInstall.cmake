# Installs what a user of jobrunner needs (docs/implementing-a-job-type.md):
#   <prefix>/bin/jobctl, run-foo-jobs, run-noop-jobs
#   <prefix>/include/jobrunner/             the public headers
#   <prefix>/lib/libjobrunner_*.a           the libraries (static unless BUILD_SHARED_LIBS)
#   <prefix>/lib/cmake/jobrunner/           the CMake package, with
#                                           jobrunner_install_job_package()
#   <prefix>/lib/pkgconfig/jobrunner.pc     for builds without CMake
#   <prefix>/share/jobrunner/sql/           jobrunner's SQL, for reading (jobctl
#                                           has it built in)
# so that users write
#   find_package(jobrunner REQUIRED)
#   target_link_libraries(my-runner PRIVATE jobrunner::jobrunner)
# Job type packages add share/jobrunner/migrations/<package>/ and
# share/jobrunner/security.d/<package>.cfg (cmake/JobrunnerPackage.cmake).
include(CMakePackageConfigHelpers)

install(TARGETS jobrunner_core jobrunner_pg jobrunner_runtime jobrunner_app jobrunner
        EXPORT jobrunnerTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/jobrunner DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/generated/include/jobrunner/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/jobrunner)
install(EXPORT jobrunnerTargets NAMESPACE jobrunner::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/jobrunner)
configure_package_config_file(cmake/jobrunnerConfig.cmake.in
  ${PROJECT_BINARY_DIR}/jobrunnerConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/jobrunner)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/jobrunnerConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/jobrunnerConfig.cmake
              ${PROJECT_BINARY_DIR}/jobrunnerConfigVersion.cmake
              cmake/JobrunnerPackage.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/jobrunner)
install(DIRECTORY sql/ DESTINATION ${CMAKE_INSTALL_DATADIR}/jobrunner/sql)

# ---- jobrunner.pc ------------------------------------------------------------
# The libraries in link order, then what they need. Public headers include
# nlohmann/json and CLI11; the libraries use libpqxx, libpq, spdlog and
# cpp-httplib (a daemon's /metrics) inside. Static libraries carry no list of their dependencies, so for them
# `pkg-config --libs jobrunner` must name every one (Requires); shared ones
# need the private ones only for --static.
get_target_property(_jobrunner_library_type jobrunner_core TYPE)
set(_jobrunner_pc_public "nlohmann_json >= 3.10, CLI11 >= 2.1")
set(_jobrunner_pc_private "libpqxx >= 6.4, libpq, spdlog >= 1.10, cpp-httplib >= 0.11")
if(_jobrunner_library_type STREQUAL "STATIC_LIBRARY")
  set(JOBRUNNER_PC_REQUIRES "${_jobrunner_pc_public}, ${_jobrunner_pc_private}")
  set(JOBRUNNER_PC_REQUIRES_PRIVATE "")
else()
  set(JOBRUNNER_PC_REQUIRES "${_jobrunner_pc_public}")
  set(JOBRUNNER_PC_REQUIRES_PRIVATE "${_jobrunner_pc_private}")
endif()
set(JOBRUNNER_PC_LIBS "-pthread")
# libdate-tz (time zones of cron schedules) ships no pkg-config file: a
# static jobrunner_core needs it named; a shared one records it itself.
if(_jobrunner_library_type STREQUAL "STATIC_LIBRARY")
  set(JOBRUNNER_PC_LIBS "-ldate-tz -pthread")
endif()
foreach(_dir LIBDIR INCLUDEDIR DATADIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(JOBRUNNER_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(JOBRUNNER_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
# The prefix is known only when installing (cmake --install --prefix DIR):
# configure everything else now, and the prefix at install time.
set(prefix "@prefix@")
configure_file(cmake/jobrunner.pc.in ${PROJECT_BINARY_DIR}/jobrunner.pc.in @ONLY)
unset(prefix)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(_jobrunner_pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
else()
  set(_jobrunner_pc_dir "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(_pc \"\$ENV{DESTDIR}${_jobrunner_pc_dir}/jobrunner.pc\")
  message(STATUS \"Installing: \${_pc}\")
  configure_file(\"${PROJECT_BINARY_DIR}/jobrunner.pc.in\" \"\${_pc}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_pc}\")
")
