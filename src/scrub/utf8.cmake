# UTF-8 validation and repair (U+FFFD for each maximal invalid subpart).
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/utf8.cpp)
