# OTLP/HTTP exporter: destinations and settings, libcurl transport, retry, disk spool,
# shutdown and the SIGTERM/SIGINT flush.
find_package(CURL REQUIRED)
find_package(ZLIB REQUIRED)
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/curl_transport.cpp ${CMAKE_CURRENT_LIST_DIR}/otlp_exporter.cpp
                               ${CMAKE_CURRENT_LIST_DIR}/otlp_settings.cpp ${CMAKE_CURRENT_LIST_DIR}/otlp_split.cpp ${CMAKE_CURRENT_LIST_DIR}/rpc_status.cpp
                               ${CMAKE_CURRENT_LIST_DIR}/spool.cpp ${CMAKE_CURRENT_LIST_DIR}/signal_flush.cpp)
target_link_libraries(logfire PRIVATE CURL::libcurl ZLIB::ZLIB)
