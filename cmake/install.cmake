# Installs the library, its headers, a CMake package (logfire-cpp-config.cmake + version file)
# and a pkg-config file (logfire-cpp.pc).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS logfire EXPORT logfire-cpp-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/logfire DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT logfire-cpp-targets NAMESPACE logfire:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/logfire-cpp)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/logfire-cpp-config.cmake.in
                              ${PROJECT_BINARY_DIR}/logfire-cpp-config.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/logfire-cpp)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/logfire-cpp-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/logfire-cpp-config.cmake ${PROJECT_BINARY_DIR}/logfire-cpp-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/logfire-cpp)

configure_file(${PROJECT_SOURCE_DIR}/cmake/logfire-cpp.pc.in ${PROJECT_BINARY_DIR}/logfire-cpp.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/logfire-cpp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
