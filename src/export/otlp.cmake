# OTLP encoding: protobuf and JSON request bodies, gzip. The SDK writes protobuf directly and
# does not link libprotobuf; zlib compresses request bodies.
find_package(ZLIB REQUIRED)
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/otlp_protobuf.cpp ${CMAKE_CURRENT_LIST_DIR}/otlp_json.cpp
                               ${CMAKE_CURRENT_LIST_DIR}/gzip.cpp)
target_link_libraries(logfire PRIVATE ZLIB::ZLIB)
