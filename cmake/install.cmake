# Installs the library, its headers, a CMake package (logfire-cpp-config.cmake + version file)
# and a pkg-config file (logfire-cpp.pc, written at install time for the prefix installed to).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS logfire EXPORT logfire-cpp-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/logfire DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT logfire-cpp-targets NAMESPACE logfire:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/logfire-cpp)

# libcurl only when the HTTP transport is curl (src/net/CMakeLists.txt).
if(LOGFIRE_HTTP_TRANSPORT STREQUAL "none")
  set(_logfire_pc_packages "zlib libdeflate re2")
  set(LOGFIRE_CONFIG_FIND_CURL "")
else()
  set(_logfire_pc_packages "libcurl zlib libdeflate re2")
  set(LOGFIRE_CONFIG_FIND_CURL "find_dependency(CURL)")
endif()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/logfire-cpp-config.cmake.in
                              ${PROJECT_BINARY_DIR}/logfire-cpp-config.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/logfire-cpp)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/logfire-cpp-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/logfire-cpp-config.cmake ${PROJECT_BINARY_DIR}/logfire-cpp-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/logfire-cpp)

# logfire-cpp.pc is written at install time, so that `cmake --install --prefix DIR` names DIR (the
# prefix given at configure time may differ). A static library needs its dependencies on every
# link, so they go in Requires (`pkg-config --libs` and `--libs --static` both link); a shared
# one keeps them private.
get_target_property(_logfire_type logfire TYPE)
if(_logfire_type STREQUAL "STATIC_LIBRARY")
  set(_logfire_pc_requires "Requires")
else()
  set(_logfire_pc_requires "Requires.private")
endif()
install(CODE "
  set(LOGFIRE_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  if(IS_ABSOLUTE \"${CMAKE_INSTALL_LIBDIR}\")
    set(LOGFIRE_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  else()
    set(LOGFIRE_PC_LIBDIR \"\\\${prefix}/${CMAKE_INSTALL_LIBDIR}\")
  endif()
  if(IS_ABSOLUTE \"${CMAKE_INSTALL_INCLUDEDIR}\")
    set(LOGFIRE_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  else()
    set(LOGFIRE_PC_INCLUDEDIR \"\\\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}\")
  endif()
  set(LOGFIRE_PC_REQUIRES \"${_logfire_pc_requires}\")
  set(LOGFIRE_PC_PACKAGES \"${_logfire_pc_packages}\")
  set(PROJECT_DESCRIPTION \"${PROJECT_DESCRIPTION}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/cmake/logfire-cpp.pc.in\" \"${PROJECT_BINARY_DIR}/logfire-cpp.pc\" @ONLY)
")
install(FILES ${PROJECT_BINARY_DIR}/logfire-cpp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
