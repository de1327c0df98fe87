# UTF-8 validation and repair (U+FFFD for each maximal invalid subpart), and the JSON string
# writers; both depend on nothing, and the scrubber, the pipeline and the exporters use them.
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/utf8.cpp ${CMAKE_CURRENT_LIST_DIR}/json.cpp)
