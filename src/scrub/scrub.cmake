# The scrubbing engine: Logfire's default patterns as a keyword automaton, user patterns with
# RE2 (linear-time matching), JSON strings scrubbed inside.
find_package(PkgConfig REQUIRED)
if(NOT TARGET PkgConfig::RE2)
  pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET GLOBAL re2)
endif()
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/keywords.cpp ${CMAKE_CURRENT_LIST_DIR}/json_tree.cpp
                               ${CMAKE_CURRENT_LIST_DIR}/scrubber.cpp)
target_link_libraries(logfire PRIVATE PkgConfig::RE2)
