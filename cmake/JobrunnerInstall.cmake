# Installs the libraries, headers and a CMake package so that users write
#   find_package(jobrunner REQUIRED)
#   target_link_libraries(my-runner PRIVATE jobrunner::jobrunner)
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
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/jobrunner)
install(DIRECTORY sql/ DESTINATION ${CMAKE_INSTALL_DATADIR}/jobrunner/sql)
