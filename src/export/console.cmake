# The Logfire-style console exporter.
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/console_exporter.cpp)
